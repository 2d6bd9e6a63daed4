"""Soak: a real gateway (``python -m gateway serve`` in its own process) under mixed traffic from many clients for a
fixed time. Bars: no 5xx at all, the job queue drains once the traffic stops, the server's RSS stays bounded (its
peak in the last third of the run within 25% of its peak in the middle third).

Traffic per client, in a loop: create a small video (sometimes with a reference image, sometimes a bad request),
poll it, list, download finished videos and check their provenance, moderate texts, read audit entries, and one
request in twenty with a wrong key. Refusals by the quotas (429) are expected and counted, never retried here.

    python -m bench.soak [--minutes 10] [--clients 16] [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pathlib
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

import httpx
import numpy as np
from PIL import Image

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "results" / "soak.json"
TENANTS = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray((rng.random((96, 96, 3)) * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.codes: Counter = Counter()
        self.by_route: dict[str, Counter] = {}
        self.latency: dict[str, list[float]] = {}
        self.server_errors: list[str] = []
        self.transport_errors = 0

    def record(self, route: str, response: httpx.Response | None, seconds: float) -> None:
        with self.lock:
            if response is None:
                self.transport_errors += 1
                return
            self.codes[response.status_code] += 1
            self.by_route.setdefault(route, Counter())[response.status_code] += 1
            self.latency.setdefault(route, []).append(seconds)
            if response.status_code >= 500:
                self.server_errors.append(f"{route} {response.status_code} {response.text[:200]}")


def _call(stats: Stats, http: httpx.Client, route: str, method: str, url: str, **kw) -> httpx.Response | None:
    start = time.perf_counter()
    try:
        response = http.request(method, url, **kw)
    except httpx.HTTPError:
        stats.record(route, None, 0.0)
        return None
    stats.record(route, response, time.perf_counter() - start)
    return response


def client_loop(n: int, base: str, key: str, stop: threading.Event, stats: Stats) -> None:
    rng = random.Random(n)
    mine: list[str] = []
    done: list[str] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        while not stop.is_set():
            roll = rng.random()
            if roll < 0.15:
                files = {"prompt": (None, rng.choice(["a red circle moving right", "a blue square on white",
                                                       "a green triangle bouncing"])),
                         "seconds": (None, "1"), "size": (None, "128x128"), "seed": (None, str(rng.randrange(2**31)))}
                if rng.random() < 0.2:
                    files["input_reference"] = ("r.png", _png(rng.randrange(1000)), "image/png")
                r = _call(stats, http, "POST /v1/videos", "POST", "/v1/videos", files=files)
                if r is not None and r.status_code == 200:
                    mine.append(r.json()["id"])
            elif roll < 0.20:  # bad requests: each must be a 4xx, never a 5xx
                bad = rng.choice([{"prompt": (None, "")}, {"prompt": (None, "x"), "seconds": (None, "NaN")},
                                  {"prompt": (None, "x"), "size": (None, "99999x1")},
                                  {"prompt": (None, "x"), "seed": (None, str(2**70))},
                                  {"prompt": (None, "x"), "input_reference": ("r.png", b"not an image", "image/png")}])
                _call(stats, http, "POST /v1/videos (bad)", "POST", "/v1/videos", files=bad)
            elif roll < 0.45 and mine:
                vid = rng.choice(mine)
                r = _call(stats, http, "GET /v1/videos/{id}", "GET", f"/v1/videos/{vid}")
                if r is not None and r.status_code == 200 and r.json()["status"] in ("completed", "failed"):
                    mine.remove(vid)
                    if r.json()["status"] == "completed":
                        done.append(vid)
            elif roll < 0.55:
                _call(stats, http, "GET /v1/videos", "GET", "/v1/videos", params={"limit": 10})
            elif roll < 0.65 and done:
                vid = rng.choice(done)
                r = _call(stats, http, "GET /v1/videos/{id}/content", "GET", f"/v1/videos/{vid}/content")
                if r is not None and r.status_code == 200 and rng.random() < 0.5:
                    _call(stats, http, "POST /v1/content_provenance_checks", "POST", "/v1/content_provenance_checks",
                          files={"file": ("v.mp4", r.content, "video/mp4")})
            elif roll < 0.80:
                _call(stats, http, "POST /v1/moderations", "POST", "/v1/moderations",
                      json={"input": ["a cat on a skateboard", "a quiet street at dawn"]})
            elif roll < 0.90:
                _call(stats, http, "GET /v1/audit/entries", "GET", "/v1/audit/entries", params={"limit": 20})
            elif roll < 0.95:
                _call(stats, http, "GET /v1/audit/checkpoint", "GET", "/v1/audit/checkpoint")
            else:
                _call(stats, http, "GET /v1/videos (wrong key)", "GET", "/v1/videos",
                      headers={"Authorization": "Bearer hm-wrong"})
            time.sleep(rng.uniform(0.0, 0.05))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="1 minute, 4 clients")
    args = parser.parse_args(argv)
    minutes, clients = (1.0, 4) if args.quick else (args.minutes, args.clients)
    port = _free_port()
    keys = [f"hm-soak-{t}" for t in range(TENANTS)]
    data = pathlib.Path(tempfile.mkdtemp(prefix="hallmark-soak-"))
    env = dict(os.environ, HALLMARK_DATA_DIR=str(data), HALLMARK_PORT=str(port),
               HALLMARK_API_KEYS=",".join(f"{k}:tenant-{t}" for t, k in enumerate(keys)),
               HALLMARK_DEFAULT_SIZE="128x128", HALLMARK_AUTH_FAILURE_LIMIT="100000/minute",
               # The per-key request rate would turn most of the traffic into 429s; the queue and budget quotas stay.
               HALLMARK_RATE_LIMIT="100000/minute")
    server = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the gateway did not start")
            time.sleep(0.2)
        stats, stop = Stats(), threading.Event()
        threads = [threading.Thread(target=client_loop, args=(n, base, keys[n % TENANTS], stop, stats), daemon=True)
                   for n in range(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        rss: list[tuple[float, float]] = []
        while time.monotonic() - started < minutes * 60:
            rss.append((time.monotonic() - started, _rss_mb(server.pid)))
            time.sleep(2)
        stop.set()
        for thread in threads:
            thread.join(180)
        # Drain: every job the clients made ends (completed or failed) once traffic stops.
        drain_start = time.monotonic()
        pending = None
        with httpx.Client(base_url=base, timeout=60) as http:
            while time.monotonic() - drain_start < 1800:
                pending = 0
                for key in keys:
                    page = http.get("/v1/videos", params={"limit": 100},
                                    headers={"Authorization": f"Bearer {key}"}).json()["data"]
                    pending += sum(v["status"] in ("queued", "in_progress") for v in page)
                if pending == 0:
                    break
                time.sleep(2)
        drain_s = time.monotonic() - drain_start
        third = minutes * 60 / 3
        middle = [m for t, m in rss if third <= t < 2 * third] or [m for _, m in rss]
        last = [m for t, m in rss if t >= 2 * third] or [m for _, m in rss]
        result = {
            "minutes": minutes, "clients": clients, "tenants": TENANTS,
            "requests": sum(stats.codes.values()), "status_codes": dict(sorted(stats.codes.items())),
            "server_errors": len(stats.server_errors), "server_error_samples": stats.server_errors[:10],
            "transport_errors": stats.transport_errors,
            "per_route": {route: {"count": sum(c.values()), "codes": dict(sorted(c.items())),
                                  "p50_ms": round(1000 * statistics.median(stats.latency.get(route) or [0]), 1),
                                  "p95_ms": round(1000 * float(np.percentile(stats.latency.get(route) or [0], 95)), 1)}
                          for route, c in sorted(stats.by_route.items())},
            "queue_drained": pending == 0, "drain_seconds": round(drain_s, 1),
            "rss_mb": {"start": round(rss[0][1], 1) if rss else None, "middle_peak": round(max(middle), 1),
                       "last_peak": round(max(last), 1), "end": round(rss[-1][1], 1) if rss else None},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_average": os.getloadavg()},
        }
        result["bars"] = {"no_5xx": result["server_errors"] == 0, "queue_drained": result["queue_drained"],
                          "rss_bounded": result["rss_mb"]["last_peak"] <= 1.25 * result["rss_mb"]["middle_peak"]}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    print(f"soak: {minutes:g} min, {clients} clients, {TENANTS} tenants, {result['requests']} requests")
    print(f"{'route':<40} {'count':>7} {'p50 ms':>8} {'p95 ms':>8}  codes")
    for route, row in result["per_route"].items():
        print(f"{route:<40} {row['count']:>7} {row['p50_ms']:>8} {row['p95_ms']:>8}  {row['codes']}")
    print(f"5xx: {result['server_errors']}  transport errors: {result['transport_errors']}  "
          f"queue drained: {result['queue_drained']} in {result['drain_seconds']} s  RSS MB: {result['rss_mb']}")
    print("bars:", result["bars"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
