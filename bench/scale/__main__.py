"""Scale-out: jobs per minute with one and with two workers (built-in model), and API latency under 16 polling
clients, measured in one run on one distributed deployment on this host (PostgreSQL, Redis, S3 via moto, one API
replica ``hallmark serve --no-worker``, ``hallmark worker`` processes with one torch thread each).

Phase 1 runs a batch of jobs with one worker, phase 2 the same batch with a second worker added; throughput is jobs
ended per minute from the first submit to the last completion. During each batch 16 clients poll their jobs
(GET /v1/videos/{id}) in a loop; p50/p95 are over every poll of the phase. The ratio (two workers over one) is the
number to read: absolute figures depend on the machine and on what else runs on it.

    python -m bench.scale [--jobs 12] [--clients 16] [--seconds 2] [--size 128x128] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from .cluster import Cluster
from .servers import free_port, shared_identity, start_postgres, start_redis, start_s3

KEY = "hm-bench-scale"
PROMPTS = ["a red circle moving right on a black background", "a blue square moving up on a white background",
           "a green circle moving left on a white background", "a yellow square moving down on a black background"]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_batch(base: str, *, jobs: int, clients: int, seconds: int, size: str) -> dict:
    """Submit ``jobs`` at once, poll them from ``clients`` threads until all ended; throughput and poll latency."""
    headers = {"Authorization": f"Bearer {KEY}"}
    started = time.monotonic()
    ids = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for n in range(jobs):
            answer = http.post("/v1/videos", data={"prompt": PROMPTS[n % len(PROMPTS)], "seconds": str(seconds),
                                                   "size": size})
            answer.raise_for_status()
            ids.append(answer.json()["id"])
    latencies: list[float] = []
    statuses: dict[str, str] = {}
    lock = threading.Lock()

    def poll(mine: list[str]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            while any(statuses.get(v) not in ("completed", "failed") for v in mine):
                for video_id in mine:
                    if statuses.get(video_id) in ("completed", "failed"):
                        continue
                    t0 = time.perf_counter()
                    body = http.get(f"/v1/videos/{video_id}").json()
                    elapsed = time.perf_counter() - t0
                    with lock:
                        latencies.append(elapsed)
                        statuses[video_id] = body["status"]
                time.sleep(0.05)

    threads = [threading.Thread(target=poll, args=(ids[n::clients] or ids[:1],)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    completed = sum(1 for v in ids if statuses[v] == "completed")
    return {"jobs": jobs, "completed": completed, "wall_seconds": round(wall, 2),
            "jobs_per_minute": round(60 * completed / wall, 2), "polls": len(latencies),
            "poll_p50_ms": round(1000 * statistics.median(latencies), 1),
            "poll_p95_ms": round(1000 * _percentile(latencies, 0.95), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--size", default="128x128")
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale.json"))
    args = parser.parse_args()

    stops = []
    root = Path(tempfile.mkdtemp(prefix="hallmark-bench-scale-"))
    cluster = None
    try:
        postgres, stop = start_postgres()
        stops.append(stop)
        redis_url, stop = start_redis()
        stops.append(stop)
        s3, stop = start_s3()
        stops.append(stop)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMARK_")}
        env.update(s3.env())
        env.update(shared_identity(root / "identity"))
        env.update({"HALLMARK_DATABASE_URL": postgres.create_database(), "HALLMARK_QUEUE_URL": redis_url,
                    "HALLMARK_STORAGE_URL": f"s3://{s3.bucket}/bench", "HALLMARK_API_KEYS": f"{KEY}:bench",
                    "HALLMARK_MAX_QUEUED_JOBS": "0", "HALLMARK_RATE_LIMIT": "1000000/minute",
                    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        cluster = Cluster(root, env)
        base = cluster.serve("api", free_port())
        cluster.start("worker-1", "worker")
        cluster.wait_for("worker-1", " ready.")
        run_batch(base, jobs=2, clients=2, seconds=1, size=args.size)  # warm-up: models loaded, caches filled
        one = run_batch(base, jobs=args.jobs, clients=args.clients, seconds=args.seconds, size=args.size)
        print(f"1 worker : {one}", flush=True)
        cluster.start("worker-2", "worker")
        cluster.wait_for("worker-2", " ready.")
        run_batch(base, jobs=2, clients=2, seconds=1, size=args.size)
        two = run_batch(base, jobs=args.jobs, clients=args.clients, seconds=args.seconds, size=args.size)
        print(f"2 workers: {two}", flush=True)
    finally:
        if cluster is not None:
            cluster.stop_all()
        for stop in reversed(stops):
            stop()
        shutil.rmtree(root, ignore_errors=True)
    result = {
        "bench": "scale", "date": time.strftime("%Y-%m-%d"), "machine": {
            "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg()},
        "settings": vars(args) | {"out": str(args.out)},
        "one_worker": one, "two_workers": two,
        "throughput_ratio": round(two["jobs_per_minute"] / one["jobs_per_minute"], 2),
        "poll_p95_ratio": round(two["poll_p95_ms"] / one["poll_p95_ms"], 2),
    }
    print(f"throughput two/one workers: {result['throughput_ratio']}x; poll p95 two/one: {result['poll_p95_ratio']}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
