"""Issue #18, parts 3 and 4: every job's audit trail ends with exactly one terminal entry, and the data a gateway
keeps is protected (owner-only files, prompts removed on delete and after retention, no credential in the access
log, no server path in what API clients read)."""

from __future__ import annotations

import io
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import av
import httpx
import pytest
import yaml
from PIL import Image

from gateway.audit import AuditLog
from gateway.bootstrap import Runtime
from gateway.core.auth import Principal
from gateway.core.redact import RedactingFilter, without_credentials, without_paths
from gateway.core.settings import Settings
from gateway.generation.service import NewVideo
from gateway.moderation import Moderation
from gateway.store.db import Database, VideoJob, utcnow
from policies import load_pack

USER, ADMIN = "hm-trail-user", "hm-trail-admin"
KEYS = f"{USER}:tenant-t,{ADMIN}:ops:admin"
TERMINAL = ("video.completed", "video.failed")
REVIEW_PROMPT = "Taylor Swift dancing on stage"  # real_person → review in the default pack


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _jobs(db_url: str) -> list[VideoJob]:
    db = Database(db_url)
    try:
        with db.session() as session:
            return list(session.query(VideoJob).order_by(VideoJob.seq))
    finally:
        db.dispose()


def _trails(db_url: str) -> dict[str, list]:
    """Each job's audit entries, in log order, checked: exactly one terminal entry, matching the job's end state,
    and after it nothing but a client's ``video.deleted``."""
    db = Database(db_url)
    try:
        entries = AuditLog(db).entries()
    finally:
        db.dispose()
    trails = {}
    for job in _jobs(db_url):
        trail = [e for e in entries if e.object_id == job.id]
        events = [e.event for e in trail]
        terminal = [e for e in trail if e.event in TERMINAL]
        assert len(terminal) == 1, (job.id, job.status, job.error_code, events)
        assert events[0] == "video.queued", events
        after = events[events.index(terminal[0].event) + 1:]
        assert set(after) <= {"video.deleted"}, events
        if job.status == "completed":
            assert terminal[0].event == "video.completed" and "video.generated" in events, events
            assert terminal[0].data["content_id"] == job.content_id
        else:
            assert job.status == "failed", (job.id, job.status)
            assert terminal[0].event == "video.failed" and terminal[0].data["code"] == job.error_code, events
        trails[job.id] = trail
    return trails


def _first_frame_png(mp4: bytes) -> bytes:
    with av.open(io.BytesIO(mp4)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def _wait(http: httpx.Client, video_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = http.get(f"/v1/videos/{video_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{video_id} did not finish")


def _wait_row(db_url: str, video_id: str, timeout: float = 240) -> VideoJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [job] = [j for j in _jobs(db_url) if j.id == video_id]
        if job.status in ("completed", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"{video_id} did not end")


@pytest.fixture(scope="module")
def live(tmp_path_factory, start_gateway):
    root = tmp_path_factory.mktemp("trail")
    pack = root / "packs" / "tenant-t.yaml"
    pack.parent.mkdir()
    pack.write_text(yaml.safe_dump({**load_pack("default").to_dict(), "id": "trail-pack"}, allow_unicode=True))
    settings = Settings(data_dir=root / "data", api_keys=KEYS, default_size="128x128", default_seconds=1,
                        tenant_policies=f"tenant-t:{pack}")
    with start_gateway(settings) as base:
        yield base, settings, pack


def _client(base: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)


# -- 3. the audit trail --------------------------------------------------------------------------------------------

def test_api_jobs_end_with_exactly_one_terminal_entry(live):
    base, settings, _ = live
    url = settings.resolved_database_url
    with _client(base, USER) as user, _client(base, ADMIN) as admin:
        made = user.post("/v1/videos", data={"prompt": "a red circle moving right", "seed": "5"})
        assert made.status_code == 200, made.text
        completed = _wait(user, made.json()["id"])
        assert completed["status"] == "completed", completed
        assert _mode(settings.media_dir / f"{completed['id']}.mp4") == 0o600

        held = user.post("/v1/videos", data={"prompt": REVIEW_PROMPT}).json()
        assert held["review"] == "pending"
        assert admin.post(f"/v1/reviews/{held['id']}/reject", json={"reason": "likeness"}).status_code == 200

        # Deleted at once: one is still queued (ended by the delete), the other queued or already running (ended by
        # its worker at the next progress report); both end "cancelled", once.
        running = user.post("/v1/videos", data={"prompt": "a slow blue square", "seconds": "4"}).json()
        queued = user.post("/v1/videos", data={"prompt": "a green triangle"}).json()
        assert user.delete(f"/v1/videos/{queued['id']}").status_code == 200
        assert user.delete(f"/v1/videos/{running['id']}").status_code == 200
        for video_id in (queued["id"], running["id"]):
            assert _wait_row(url, video_id).error_code == "cancelled"

        # The output screen refuses a video that matches a registered work: a GatewayError with its own code.
        frame = _first_frame_png(user.get(f"/v1/videos/{completed['id']}/content").content)
        work = admin.post("/v1/registered_works", files={"file": ("w.png", frame, "image/png"),
                                                         "title": (None, "Red Circle")})
        assert work.status_code == 200, work.text
        try:
            again = user.post("/v1/videos", data={"prompt": "a red circle moving right", "seed": "5"}).json()
            refused = _wait(user, again["id"])
        finally:
            admin.delete(f"/v1/registered_works/{work.json()['id']}")
        assert refused["error"]["code"] == "registered_work_match", refused

    trails = _trails(url)
    codes = {job.id: job.error_code for job in _jobs(url)}
    assert codes == {completed["id"]: None, held["id"]: "moderation_blocked", queued["id"]: "cancelled",
                     running["id"]: "cancelled", again["id"]: "registered_work_match"}
    rejected = [e.event for e in trails[held["id"]]]
    assert rejected == ["video.queued", "review.rejected", "video.failed"]
    for job in _jobs(url):  # a deleted job keeps its row (and hash) but not its prompt
        assert (job.prompt == "") == (job.deleted_at is not None)
        assert job.prompt_sha256


def _side_runtime(data_dir: Path, **overrides) -> Runtime:
    return Runtime(Settings(data_dir=data_dir, max_attempts=2, **overrides))


def _create(rt: Runtime, prompt: str, *, reference_png: bytes | None = None) -> VideoJob:
    decision = Moderation(decision_id="dec_trail", action="allow", policy="default@1", flagged=[], categories={},
                          reasons=[])
    return rt.generation.create(Principal(tenant="t", role="user", key_id="k"),
                                NewVideo(prompt=prompt, model="m", seconds=1, size=(128, 128), seed=1,
                                         reference_png=reference_png), decision)


def test_runner_paths_end_with_exactly_one_terminal_entry(tmp_path):
    data = tmp_path / "data"
    rt = _side_runtime(data)
    try:
        crashed = _create(rt, "interrupted twice")
        with rt.db.session.begin() as session:  # a crash: left in_progress, every attempt used
            row = session.get(VideoJob, crashed.id)
            row.status, row.attempts = "in_progress", 2
        rt.runner.recover()
        rt.runner.recover()  # a second start finds nothing to end again

        broken = _create(rt, "with an unreadable reference", reference_png=b"not an image")
        claimed = rt.runner.claim_next()
        assert claimed.id == broken.id
        rt.runner.run(claimed)

        doomed = _create(rt, "deleted while running")
        claimed = rt.runner.claim_next()
        rt.generation.delete(Principal(tenant="t", role="user", key_id="k"), doomed.id)
        rt.runner.run(claimed)  # the first progress report sees the deletion
    finally:
        rt.close()
    url = f"sqlite:///{(data / 'hallmark.db').resolve()}"
    trails = _trails(url)
    codes = {job.id: job.error_code for job in _jobs(url)}
    assert codes == {crashed.id: "interrupted", broken.id: "generation_failed", doomed.id: "cancelled"}
    assert [e.event for e in trails[doomed.id]] == ["video.queued", "video.deleted", "video.failed"]
    assert trails[crashed.id][-1].actor == "system"


# -- 4. data protection ---------------------------------------------------------------------------------------------

def test_data_files_are_owner_only(live):
    _, settings, _ = live
    data = settings.data_dir
    for folder in (data, data / "keys", data / "media"):
        assert _mode(folder) == 0o700, folder
    database = data / "hallmark.db"
    for name in ("hallmark.db", "hallmark.db-wal", "hallmark.db-shm"):  # the server holds the database open
        assert _mode(data / name) == 0o600, name
    assert database.exists()
    # Private keys and media owner-only; certificates are public by nature (and inside a 0700 directory anyway).
    files = [p for p in (data / "media").iterdir()] + [p for p in (data / "keys").glob("*.key")]
    assert len(files) >= 3 and all(_mode(p) == 0o600 for p in files), [(p.name, oct(_mode(p))) for p in files]


def test_files_an_older_version_left_open_are_tightened(tmp_path):
    data = tmp_path / "data"
    (data / "media").mkdir(parents=True, mode=0o755)
    os.chmod(data, 0o755)
    (data / "hallmark.db").touch(mode=0o644)
    os.chmod(data / "hallmark.db", 0o644)
    rt = _side_runtime(data)
    try:
        _create(rt, "a prompt")  # writes: -wal and -shm exist now
        assert _mode(data) == _mode(data / "media") == _mode(data / "keys") == 0o700
        for name in ("hallmark.db", "hallmark.db-wal", "hallmark.db-shm"):
            assert _mode(data / name) == 0o600, name
    finally:
        rt.close()
    fresh = tmp_path / "other.db"
    Database(f"sqlite:///{fresh}").dispose()
    assert _mode(fresh) == 0o600


def test_prompts_go_after_retention_and_the_api_shows_them_empty(live):
    base, settings, _ = live
    with _client(base, USER) as user, _client(base, ADMIN) as admin:
        held = user.post("/v1/videos", data={"prompt": REVIEW_PROMPT}).json()
        admin.post(f"/v1/reviews/{held['id']}/reject")
        assert user.get(f"/v1/videos/{held['id']}").json()["prompt"] == REVIEW_PROMPT
        rt = Runtime(settings)  # the CLI's view of the same data directory, beside the running gateway
        try:
            assert rt.generation.purge_prompts() == 0  # within the 30 days
            later = utcnow() + timedelta(days=settings.prompt_retention_days, seconds=1)
            assert rt.generation.purge_prompts(now=later) >= 1
        finally:
            rt.close()
        body = user.get(f"/v1/videos/{held['id']}").json()
        assert body["prompt"] == "" and body["status"] == "failed" and body["error"]["code"] == "moderation_blocked"
        assert all(v["prompt"] == "" for v in user.get("/v1/videos", params={"limit": 100}).json()["data"]
                   if v["status"] in ("completed", "failed"))


def test_worker_and_cli_purge_prompts(tmp_path):
    data = tmp_path / "data"
    rt = _side_runtime(data)
    try:
        old, recent, waiting = _create(rt, "old"), _create(rt, "recent"), _create(rt, "still queued")
        with rt.db.session.begin() as session:
            for job, age in ((old, 31), (recent, 1)):
                row = session.get(VideoJob, job.id)
                row.status, row.completed_at = "completed", utcnow() - timedelta(days=age)
            session.get(VideoJob, waiting.id).review = "pending"  # not runnable: the worker must not generate it
        worker = rt.worker()
        worker.start()  # at start: the purge runs once (30 days by default)
        worker.stop()
    finally:
        rt.close()
    prompts = {job.id: job.prompt for job in _jobs(f"sqlite:///{(data / 'hallmark.db').resolve()}")}
    assert prompts == {old.id: "", recent.id: "recent", waiting.id: "still queued"}

    def purge(*args):
        return subprocess.run([sys.executable, "-m", "gateway", "jobs", "purge-prompts", *args, "--data-dir",
                               str(data)], capture_output=True, text=True, timeout=120)

    kept = purge()
    assert kept.returncode == 0 and "removed 0" in kept.stdout, kept.stderr
    now = purge("--days", "0")
    assert now.returncode == 0 and "removed 1" in now.stdout, now.stderr
    prompts = {job.id: job.prompt for job in _jobs(f"sqlite:///{(data / 'hallmark.db').resolve()}")}
    assert prompts == {old.id: "", recent.id: "", waiting.id: "still queued"}  # a job not ended keeps its prompt


def test_retention_zero_removes_the_prompt_as_the_job_ends(tmp_path):
    rt = _side_runtime(tmp_path / "data", prompt_retention_days=0)
    try:
        job = _create(rt, REVIEW_PROMPT)
        with rt.db.session.begin() as session:
            session.get(VideoJob, job.id).review = "pending"
        rt.generation.decide_review(job.id, approve=False, actor="cli")
        with rt.db.session() as session:
            assert session.get(VideoJob, job.id).prompt == ""
    finally:
        rt.close()


def _uvicorn_access_record(path: str) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                             ("127.0.0.1:5000", "GET", path, "1.1", 200), None)


def test_access_log_filter_drops_the_query_string():
    from uvicorn.logging import AccessFormatter

    record = _uvicorn_access_record("/v1/videos?api_key=hm-secret-1&limit=2")
    assert RedactingFilter().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert line == '127.0.0.1:5000 - "GET /v1/videos HTTP/1.1" 200 OK'
    other = logging.LogRecord("hallmark.api", logging.WARNING, __file__, 1, "header %s", ("Bearer hm-secret-2",),
                              None)
    RedactingFilter().filter(other)
    assert "hm-secret-2" not in other.getMessage() and "Bearer" in other.getMessage()
    assert "hm-x" not in without_credentials("Authorization: hm-x ?key=hm-x token=hm-x")
    assert without_paths("FileNotFoundError: '/srv/hallmark/weights/model.pt'") == "FileNotFoundError: 'model.pt'"


def test_hallmark_serve_logs_requests_without_query_string(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, HALLMARK_DATA_DIR=str(tmp_path / "data"), HALLMARK_PORT=str(port),
               HALLMARK_API_KEYS=f"{USER}:tenant-t")
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert httpx.get(f"{base}/v1/audit/checkpoint?api_key=hm-query-secret").status_code == 401
        assert httpx.get(f"{base}/v1/audit/checkpoint", headers={"Authorization": f"Bearer {USER}"},
                         timeout=60).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert '"GET /v1/audit/checkpoint HTTP/1.1" 401' in output, output
    assert '"GET /v1/audit/checkpoint HTTP/1.1" 200' in output, output
    assert "hm-query-secret" not in output and "api_key" not in output and USER not in output


def test_no_server_path_in_policies_audit_or_reload_errors(live):
    base, settings, pack = live
    with _client(base, ADMIN) as admin:
        policies = admin.get("/v1/policies")
        assert policies.status_code == 200
        sources = {p["scope"]: p["source"] for p in policies.json()["data"]}
        assert sources["tenant-t"] == "tenant-t.yaml" and sources["*"] == "default.yaml"

        original = pack.read_text()
        pack.write_text("id: trail-pack\nversion: 2\nthresholds: {sexual: {review: 2}}\n")
        try:
            refused = admin.post("/v1/policies/reload", json={"scope": "tenant-t"})
        finally:
            pack.write_text(original)
        assert refused.status_code == 422
        assert "tenant-t.yaml" in refused.text

        entries = admin.get("/v1/audit/entries", params={"limit": 1000})
        assert entries.status_code == 200 and entries.json()["data"]
        events = {e["event"] for e in entries.json()["data"]}
        assert {"keys.created", "policy.activated", "policy.reload_failed"} <= events
    for text in (policies.text, refused.text, entries.text):
        assert str(pack.parent) not in text and str(settings.data_dir) not in text
        assert str(Path(load_pack("default").source).parent) not in text
