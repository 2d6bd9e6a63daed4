"""A deployment of ``hallmark`` processes on this host, for the scale-out test and bench: API replicas
(``hallmark serve --no-worker``) and workers (``hallmark worker``), each with a data directory of its own (so
anything they share goes through the database, the broker and the object store) and a log file under ``root``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


class Cluster:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str, **extra: str) -> subprocess.Popen:
        data = self.root / name
        env = dict(self.env, HALLMARK_DATA_DIR=str(data), **extra)
        log = open(self.root / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "gateway", *args], env=env, stdout=log, stderr=log,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def serve(self, name: str, port: int) -> str:
        self.start(name, "serve", "--no-worker", HALLMARK_PORT=str(port))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log(name)}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not start: {self.log(name)}")

    def wait_for(self, name: str, text: str, timeout: float = 180) -> None:
        """Until ``text`` shows in the process's log (a worker prints "ready." once its model is loaded)."""
        deadline = time.monotonic() + timeout
        while text not in self.log(name, tail=None):
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} never logged {text!r}: {self.log(name)}")
            time.sleep(0.2)

    def log(self, name: str, tail: int | None = 4000) -> str:
        path = self.root / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text[-tail:] if tail else text

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
