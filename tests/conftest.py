"""Shared fixtures: a real gateway served by uvicorn on a loopback port, with two tenants."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

KEY_A = "hm-test-tenant-a"
KEY_B = "hm-test-tenant-b"
KEY_ADMIN = "hm-test-admin"
MAX_UPLOAD = 3 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveGateway:
    base_url: str
    data_dir: Path
    settings: object
    key_a: str = KEY_A
    key_b: str = KEY_B
    key_admin: str = KEY_ADMIN
    max_upload: int = MAX_UPLOAD

    def client(self, key: str | None = KEY_A) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)

    def wait_done(self, video_id: str, key: str = KEY_A, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        with self.client(key) as http:
            while time.monotonic() < deadline:
                body = http.get(f"/v1/videos/{video_id}").json()
                if body["status"] in ("completed", "failed"):
                    return body
                time.sleep(0.2)
        raise AssertionError(f"{video_id} did not finish in {timeout}s")


@contextmanager
def serve_in_thread(settings) -> Iterator[str]:
    """A real gateway on a free loopback port for the duration of the block; yields its base URL."""
    import uvicorn

    from gateway.api import create_app
    from gateway.api.server import server_config

    port = free_port()
    server = uvicorn.Server(server_config(create_app(settings, announce=lambda _m: None), host="127.0.0.1",
                                          port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("gateway did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def audit_events():
    """``audit_events(settings, event)``: the entries of that event in the audit log of ``settings``' database."""
    from gateway.audit import AuditLog
    from gateway.store.db import Database

    def read(settings, event: str) -> list:
        db = Database(settings.resolved_database_url)
        try:
            return list(AuditLog(db).entries(event=event))
        finally:
            db.dispose()

    return read


@pytest.fixture(scope="session")
def start_gateway():
    """``serve_in_thread``, for tests that need a gateway with settings of their own."""
    return serve_in_thread


@pytest.fixture(scope="session")
def gateway(tmp_path_factory) -> Iterator[LiveGateway]:
    from gateway.core.settings import Settings

    data_dir = tmp_path_factory.mktemp("hallmark-data")
    settings = Settings(data_dir=data_dir, api_keys=f"{KEY_A}:tenant-a,{KEY_B}:tenant-b,{KEY_ADMIN}:ops:admin",
                        max_upload_bytes=MAX_UPLOAD, default_size="128x128", default_seconds=2)
    with serve_in_thread(settings) as base_url:
        yield LiveGateway(base_url=base_url, data_dir=data_dir, settings=settings)


@pytest.fixture(scope="session")
def completed_video(gateway) -> tuple[dict, bytes]:
    """One video generated through the API and downloaded: shared by the verification tests."""
    with gateway.client() as http:
        created = http.post("/v1/videos", files={"prompt": (None, "a red circle moving right on a black background"),
                                                 "size": (None, "128x128"), "seconds": (None, "2"),
                                                 "seed": (None, "11")})
        assert created.status_code == 200, created.text
        video = gateway.wait_done(created.json()["id"])
        assert video["status"] == "completed", video
        content = http.get(f"/v1/videos/{video['id']}/content")
        assert content.status_code == 200
    return video, content.content
