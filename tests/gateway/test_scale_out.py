"""The distributed deployment, for real: PostgreSQL, Redis (Celery broker) and an S3 endpoint, two API processes
(``hallmark serve --no-worker``) and two worker processes (``hallmark worker``) on loopback, each with a data
directory of its own, so everything they share goes through the database, the broker and the object store.

Twelve jobs through the official openai SDK, spread over both APIs; one worker SIGKILLed mid-job and one API process
killed and restarted while jobs run: every job completes exactly once (one registry record, one video.completed
entry), every download verifies ``trusted`` with its content id, and ``hallmark audit verify`` passes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import openai
import pytest
from sqlalchemy import create_engine, text

from bench.scale.cluster import Cluster
from bench.scale.servers import free_port, shared_identity

KEY = "hm-scale-out-key"
JOBS = 12


@pytest.fixture
def cluster_env(tmp_path, postgres_url, redis_url, s3_server) -> dict[str, str]:
    """Every node's settings: the shared servers and one identity from files (no node makes keys)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMARK_")}
    env.update(s3_server.env())
    env.update(shared_identity(tmp_path / "identity"))
    env.update({
        "HALLMARK_DATABASE_URL": postgres_url,
        "HALLMARK_QUEUE_URL": redis_url,
        "HALLMARK_STORAGE_URL": f"s3://{s3_server.bucket}/{tmp_path.name}",
        "HALLMARK_AUDIT_PROMPTS": "encrypted",
        "HALLMARK_API_KEYS": f"{KEY}:tenant-s",
        "HALLMARK_DEFAULT_SIZE": "128x128",
        "HALLMARK_JOB_LEASE_SECONDS": "6",
        "HALLMARK_MAX_ATTEMPTS": "3",
        "HALLMARK_MAX_QUEUED_JOBS": "0",
        "OMP_NUM_THREADS": "1",
    })
    return env


def _job_row(engine, video_id: str) -> tuple[str, str | None]:
    with engine.connect() as conn:
        return tuple(conn.execute(text("SELECT status, error_code FROM videos WHERE id = :id"),
                                  {"id": video_id}).one())


def test_a_node_without_the_shared_identity_refuses_to_start(tmp_path, postgres_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMARK_")}
    env.update(HALLMARK_DATABASE_URL=postgres_url, HALLMARK_DATA_DIR=str(tmp_path / "node"))
    result = subprocess.run([sys.executable, "-m", "gateway", "serve", "--no-worker"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "distributed deployment" in result.stderr and "HALLMARK_SIGNING_CERT_CHAIN" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "node" / "keys" / "dev-signer.key").exists()


def test_two_apis_two_workers_a_worker_killed_mid_job(tmp_path, cluster_env, postgres_url):
    cluster = Cluster(tmp_path, cluster_env)
    try:
        upgraded = subprocess.run([sys.executable, "-m", "gateway", "db", "upgrade"], capture_output=True, text=True,
                                  env=dict(cluster_env, HALLMARK_DATA_DIR=str(tmp_path / "admin")), timeout=120)
        assert upgraded.returncode == 0, upgraded.stderr
        ports = [free_port(), free_port()]
        bases = [cluster.serve("api-0", ports[0]), cluster.serve("api-1", ports[1])]
        workers = {name: cluster.start(name, "worker") for name in ("worker-0", "worker-1")}
        clients = [openai.OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=5, timeout=60) for base in bases]

        ids = []
        for n in range(JOBS // 2):  # the first half, spread over both APIs
            ids.append(clients[n % 2].videos.create(prompt="a red circle moving right on a black background",
                                                    seconds="2", size="128x128").id)

        engine = create_engine(postgres_url)

        def running_owner() -> tuple[str, str] | None:
            with engine.connect() as conn:
                row = conn.execute(text("SELECT id, lease_owner FROM videos WHERE status = 'in_progress' "
                                        "AND progress > 5 AND lease_owner IS NOT NULL LIMIT 1")).first()
            return None if row is None else (row[0], row[1])

        deadline = time.monotonic() + 240
        while (found := running_owner()) is None:
            assert time.monotonic() < deadline, cluster.log("worker-0") + cluster.log("worker-1")
            time.sleep(0.05)
        victim_job, owner = found
        pid = int(owner.split(":")[1])
        victim = next(name for name, proc in workers.items() if proc.pid == pid)
        cluster.kill(victim)  # SIGKILL mid-job: no clean-up, no acknowledgement

        # An API process dies too, and comes back while the jobs run; the other half goes in meanwhile.
        cluster.kill("api-0")
        for n in range(JOBS // 2, JOBS - 2):
            ids.append(clients[1].videos.create(prompt="a blue square moving up on a white background",
                                                seconds="2", size="128x128").id)
        bases[0] = cluster.serve("api-0", ports[0])
        for n in range(JOBS - 2, JOBS):
            ids.append(clients[n % 2].videos.create(prompt="a green circle moving left on a white background",
                                                    seconds="2", size="128x128").id)

        done = {}
        deadline = time.monotonic() + 600
        while len(done) < JOBS and time.monotonic() < deadline:
            for n, video_id in enumerate(ids):
                if video_id not in done:
                    video = clients[n % 2].videos.retrieve(video_id)
                    if video.status in ("completed", "failed"):
                        done[video_id] = video
            time.sleep(0.5)
        survivor = next(name for name in workers if name != victim)
        assert len(done) == JOBS, cluster.log(survivor)[-3000:]
        unfinished = {video_id: (v.status, v.error) for video_id, v in done.items() if v.status != "completed"}
        assert not unfinished, (unfinished, cluster.log(survivor)[-3000:])

        with engine.connect() as conn:
            records = dict(conn.execute(text("SELECT video_id, count(*) FROM registry GROUP BY video_id")).all())
            completed = dict(conn.execute(text(
                "SELECT object_id, count(*) FROM audit_entries WHERE event = 'video.completed' "
                "GROUP BY object_id")).all())
            attempts = conn.execute(text("SELECT attempts FROM videos WHERE id = :id"), {"id": victim_job}).scalar()
        engine.dispose()
        assert {video_id: records.get(video_id) for video_id in ids} == {video_id: 1 for video_id in ids}
        assert {video_id: completed.get(video_id) for video_id in ids} == {video_id: 1 for video_id in ids}
        assert attempts == 2  # the killed run, then the one that finished

        for n, video_id in enumerate(ids):
            client = clients[n % 2]
            mp4 = tmp_path / f"{video_id}.mp4"
            client.videos.download_content(video_id).write_to_file(mp4)
            with mp4.open("rb") as handle:
                check = client.content_provenance_checks.create(file=handle)
            assert check.results[0].validation_state == "trusted", check.results[0]
            assert check.results[1].to_dict()["content_id"] == done[video_id].to_dict()["content_id"]

        # Cancellation reaches a job running on a worker: DELETE while it runs ends it (one terminal entry).
        doomed = clients[0].videos.create(prompt="a red circle moving right on a black background", seconds="4",
                                          size="128x128").id
        deadline = time.monotonic() + 120
        while clients[0].videos.retrieve(doomed).progress < 5:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        clients[1].videos.delete(doomed)
        engine = create_engine(postgres_url)
        deadline = time.monotonic() + 120
        while (row := _job_row(engine, doomed))[0] == "in_progress":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert row == ("failed", "cancelled")
        with engine.connect() as conn:
            ended = conn.execute(text("SELECT event FROM audit_entries WHERE object_id = :id AND event IN "
                                      "('video.completed', 'video.failed')"), {"id": doomed}).scalars().all()
        engine.dispose()
        assert ended == ["video.failed"]

        verified = subprocess.run([sys.executable, "-m", "gateway", "audit", "verify"], capture_output=True,
                                  text=True, env=dict(cluster_env, HALLMARK_DATA_DIR=str(tmp_path / "admin")),
                                  timeout=300)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        cluster.stop_all()


def test_api_and_worker_processes_on_one_data_directory(tmp_path):
    """Without a queue: `hallmark serve --no-worker` takes jobs, a `hallmark worker` process beside it (same SQLite
    data directory) runs them, polling the database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMARK_")}
    env.update({"HALLMARK_API_KEYS": f"{KEY}:tenant-s", "HALLMARK_DEFAULT_SIZE": "128x128", "OMP_NUM_THREADS": "1"})
    cluster = Cluster(tmp_path, env)
    try:
        # One data directory for both: the Cluster names it after the process, so both use the name "node".
        base = cluster.serve("node", free_port())
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=5, timeout=60)
        created = client.videos.create(prompt="a red circle moving right on a black background", seconds="2",
                                       size="128x128")
        time.sleep(1.0)
        assert client.videos.retrieve(created.id).status == "queued"  # no worker in the API process
        cluster.procs["api"] = cluster.procs.pop("node")
        cluster.start("node", "worker")
        deadline = time.monotonic() + 300
        while (video := client.videos.retrieve(created.id)).status not in ("completed", "failed"):
            assert time.monotonic() < deadline, cluster.log("node")
            time.sleep(0.5)
        assert video.status == "completed", video.error
    finally:
        cluster.stop_all()
