"""Jobs survive restarts: queued jobs still run; interrupted ones are rerun or failed with a reason."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from gateway.bootstrap import Runtime
from gateway.core.auth import Principal
from gateway.core.settings import Settings
from gateway.generation.service import NewVideo
from gateway.moderation import Moderation
from gateway.store.db import VideoJob

KEY = "hm-restart-test"


def _moderation() -> Moderation:
    return Moderation(decision_id="dec_test", action="allow", policy="default@1", flagged=[], categories={},
                      reasons=[])


def test_recover_requeues_or_fails(tmp_path):
    rt = Runtime(Settings(data_dir=tmp_path, max_attempts=2))
    jobs = rt.generation
    principal = Principal(tenant="t", role="user", key_id="x")
    request = NewVideo(prompt="a red circle", model="m", seconds=1, size=(128, 128), seed=1)
    first = jobs.create(principal, request, _moderation())
    second = jobs.create(principal, request, _moderation())
    with rt.db.session.begin() as session:
        session.get(VideoJob, first.id).status = "in_progress"
        session.get(VideoJob, first.id).attempts = 1
        session.get(VideoJob, second.id).status = "in_progress"
        session.get(VideoJob, second.id).attempts = 2
    rt.runner.recover()
    assert jobs.get(principal, first.id).status == "queued"
    failed = jobs.get(principal, second.id)
    assert failed.status == "failed" and failed.error_code == "interrupted"
    assert "stopped" in failed.error_message
    rt.close()


def _serve(data_dir, port) -> subprocess.Popen:
    env = dict(os.environ, HALLMARK_DATA_DIR=str(data_dir), HALLMARK_PORT=str(port),
               HALLMARK_API_KEYS=f"{KEY}:tenant-r", HALLMARK_DEFAULT_SIZE="128x128")
    return subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become healthy")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_killed_mid_job_resumes_after_restart(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {KEY}"}
    proc = _serve(tmp_path, port)
    try:
        _wait_healthy(base, proc)
        created = httpx.post(f"{base}/v1/videos", headers=headers, timeout=60,
                             data={"prompt": "a purple circle moving left", "seconds": "4"})
        assert created.status_code == 200, created.text
        queued = httpx.post(f"{base}/v1/videos", headers=headers, timeout=60,
                            data={"prompt": "a green square", "seconds": "1"})
        video_id, queued_id = created.json()["id"], queued.json()["id"]
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/v1/videos/{video_id}", headers=headers).json()["status"] != "in_progress":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # a crash, not a clean shutdown
        proc.wait(10)

        proc = _serve(tmp_path, port)
        _wait_healthy(base, proc)
        deadline = time.monotonic() + 180
        states = {}
        while time.monotonic() < deadline:
            states = {vid: httpx.get(f"{base}/v1/videos/{vid}", headers=headers).json() for vid in (video_id, queued_id)}
            if all(v["status"] in ("completed", "failed") for v in states.values()):
                break
            time.sleep(0.3)
        assert states[video_id]["status"] == "completed", states[video_id]
        assert states[queued_id]["status"] == "completed", states[queued_id]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
