"""The shared database under several processes, on SQLite and on a real PostgreSQL: audit appends from two processes
at once leave one consistent tree; two processes creating jobs at once get distinct creation numbers; job leases
keep a live worker's job and give back a dead one's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from gateway.audit import AuditLog
from gateway.core.auth import Principal
from gateway.generation.service import NewVideo
from gateway.generation.worker import JobRunner
from gateway.moderation import Moderation
from gateway.store.db import Database, VideoJob, utcnow

APPENDS = 150

APPENDER = textwrap.dedent("""
    import sys
    from gateway.audit import AuditEvent, AuditLog
    from gateway.store.db import Database
    db = Database(sys.argv[1])
    log = AuditLog(db)
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start appending together
    for n in range(int(sys.argv[2])):
        log.append(AuditEvent(event="test.append", actor=sys.argv[3], data={"n": n}))
    db.dispose()
""")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("postgres_url")


def test_two_processes_append_to_one_consistent_tree(url):
    Database(url).dispose()  # created once, before the writers start
    env = {k: v for k, v in os.environ.items() if k != "HALLMARK_DATABASE_URL"}
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, url, str(APPENDS), f"proc-{n}"], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for n in range(2)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.wait(300) == 0
    db = Database(url)
    log = AuditLog(db)
    report = log.verify()
    assert report.problems == []
    assert log.size() == 2 * APPENDS == log.count()
    entries = log.entries(event="test.append", limit=10 * APPENDS)
    assert sorted(e.index for e in entries) == list(range(2 * APPENDS))
    for actor in ("proc-0", "proc-1"):  # each writer's entries are all there, in its own order
        mine = sorted((e for e in entries if e.actor == actor), key=lambda e: e.index)
        assert [e.data["n"] for e in mine] == list(range(APPENDS))
    db.dispose()


def _moderation() -> Moderation:
    return Moderation(decision_id="dec_test", action="allow", policy="default@1", flagged=[], categories={},
                      reasons=[])


def _runtime_pieces(url: str, tmp_path):
    from gateway.bootstrap import Runtime
    from gateway.core.settings import Settings

    return Runtime(Settings(data_dir=tmp_path / "data", database_url=url, max_queued_jobs=0, deployment="single"))


def test_creation_numbers_stay_unique_across_processes(url, tmp_path):
    """Two processes creating jobs at once (each its own gateway on the one database)."""
    script = textwrap.dedent("""
        import sys
        from pathlib import Path
        from gateway.bootstrap import Runtime
        from gateway.core.auth import Principal
        from gateway.core.settings import Settings
        from gateway.generation.service import NewVideo
        from gateway.moderation import Moderation
        rt = Runtime(Settings(data_dir=Path(sys.argv[2]), database_url=sys.argv[1], max_queued_jobs=0,
                              deployment="single"))
        moderation = Moderation(decision_id="dec_test", action="allow", policy="default@1", flagged=[], categories={},
                                reasons=[])
        principal = Principal(tenant="t", role="user", key_id="x")
        print("ready", flush=True)
        sys.stdin.readline()
        for n in range(40):
            rt.generation.create(principal, NewVideo(prompt=f"p{n}", model="m", seconds=1, size=(128, 128),
                                                     seed=n), moderation)
        rt.close()
    """)
    Database(url).dispose()
    env = {k: v for k, v in os.environ.items() if k != "HALLMARK_DATABASE_URL"}
    procs = [subprocess.Popen([sys.executable, "-c", script, url, str(tmp_path / f"node-{n}")], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for n in range(2)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.wait(300) == 0
    db = Database(url)
    with db.session() as session:
        seqs = list(session.scalars(select(VideoJob.seq)))
    assert len(seqs) == 80 and len(set(seqs)) == 80
    db.dispose()


def test_leases_keep_live_jobs_and_return_dead_ones(url, tmp_path):
    rt = _runtime_pieces(url, tmp_path)
    principal = Principal(tenant="t", role="user", key_id="x")
    request = NewVideo(prompt="a red circle", model="m", seconds=1, size=(128, 128), seed=1)
    first = rt.generation.create(principal, request, _moderation())
    second = rt.generation.create(principal, request, _moderation())
    third = rt.generation.create(principal, request, _moderation())

    def runner(owner: str) -> JobRunner:
        return JobRunner(db=rt.db, assets=rt.assets, audit=rt.audit, producer=rt.producer, max_attempts=2,
                         lease_seconds=30, owner=owner)

    alive, other = runner("elsewhere:1:a"), runner("elsewhere:2:b")
    assert alive.claim(first.id).id == first.id
    assert other.claim(first.id) is None  # taken: a duplicate message is dropped
    assert other.recover() == []  # a live lease is never taken
    with rt.db.session() as session:
        assert session.get(VideoJob, first.id).status == "in_progress"

    with rt.db.session.begin() as session:  # its worker stopped renewing: the lease ran out
        session.execute(update(VideoJob).where(VideoJob.id == first.id)
                        .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert [job.id for job in other.recover()] == [first.id]
    assert other.recover() == []  # ended once
    assert not alive._renew(first.id)  # the old holder learns it lost the job
    with rt.db.session() as session:
        job = session.get(VideoJob, first.id)
        assert (job.status, job.lease_owner, job.attempts) == ("queued", None, 1)

    # Second run of the same job, killed too: with max_attempts=2 it fails with a reason, once.
    assert other.claim(first.id).attempts == 2
    with rt.db.session.begin() as session:
        session.execute(update(VideoJob).where(VideoJob.id == first.id)
                        .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert alive.recover() == []
    with rt.db.session() as session:
        job = session.get(VideoJob, first.id)
        assert (job.status, job.error_code) == ("failed", "interrupted")
        failed = session.scalar(select(func.count()).select_from(VideoJob).where(VideoJob.status == "failed"))
    assert failed == 1
    assert [e.object_id for e in rt.audit.entries(event="video.failed")] == [first.id]

    # A lease held by a process of this host that no longer exists is returned at once, without waiting it out.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    namespace = "".join(ch for ch in os.readlink("/proc/self/ns/pid") if ch.isdigit())
    gone = runner(f"{socket.gethostname()}:{dead.stdout.strip()}:{namespace}:c")
    assert gone.claim(second.id) is not None
    # The same host name in another PID namespace (a container on host networking): that pid says nothing here.
    elsewhere = runner(f"{socket.gethostname()}:{dead.stdout.strip()}:1:d")
    assert elsewhere.claim(third.id) is not None
    assert [job.id for job in alive.recover()] == [second.id]
    rt.close()


def test_lost_messages_are_found_but_not_those_waiting_for_a_slot(url, tmp_path):
    """The sweep sends again the messages of jobs queued long ago, except for a tenant at its running limit."""
    rt = _runtime_pieces(url, tmp_path)
    principal = Principal(tenant="t", role="user", key_id="x")
    request = NewVideo(prompt="a red circle", model="m", seconds=1, size=(128, 128), seed=1)
    jobs = [rt.generation.create(principal, request, _moderation()) for _ in range(3)]
    with rt.db.session.begin() as session:
        session.execute(update(VideoJob).values(created_at=utcnow() - timedelta(minutes=10)))
    runner = JobRunner(db=rt.db, assets=rt.assets, audit=rt.audit, producer=rt.producer, max_attempts=2,
                       running_limit=lambda _tenant: 1)
    assert [job.id for job in runner.stale_queued(60)] == [job.id for job in jobs]
    assert runner.stale_queued(3600) == []  # none queued that long
    assert runner.claim(jobs[0].id).id == jobs[0].id
    assert runner.stale_queued(60) == []  # tenant t runs its one allowed job: the others wait for the slot
    assert runner.claim(jobs[1].id) == "busy"
    rt.close()
