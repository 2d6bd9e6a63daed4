"""The audit log detects any changed, deleted, reordered or inserted entry, and survives a crash mid-append."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import text

from gateway.audit import AuditEvent, AuditLog, CheckpointSigner
from gateway.store.db import Database


def make_log(path, *, entries: int = 5, checkpoint_every: int = 0):
    db = Database(f"sqlite:///{path / 'a.db'}")
    audit = AuditLog(db, signer=CheckpointSigner.load_or_create(path / "audit.key", "test.example/log"),
                     checkpoint_every=checkpoint_every)
    for n in range(entries):
        audit.append(AuditEvent(event="policy.decision", actor="key:abc", tenant="t", object_id=f"dec_{n}",
                                data={"action": "allow", "n": n}))
    return audit, db


@pytest.fixture()
def log(tmp_path):
    audit, db = make_log(tmp_path)
    audit.checkpoint()
    yield audit, db
    db.dispose()


def sql(db, statement: str, **params) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_intact_log_verifies(log):
    audit, _ = log
    report = audit.verify()
    assert report.ok, report.problems
    assert (report.entries, report.tree_size, report.checkpoints) == (5, 5, 1)


def test_changed_entry_detected(log):
    audit, db = log
    sql(db, "UPDATE audit_entries SET entry = replace(entry, '\"allow\"', '\"block\"') WHERE \"index\" = 2")
    report = audit.verify()
    assert not report.ok and any("entry 2" in p for p in report.problems)


def test_changed_query_column_detected(log):
    audit, db = log
    sql(db, "UPDATE audit_entries SET tenant = 'other' WHERE \"index\" = 3")
    report = audit.verify()
    assert not report.ok and any("entry 3" in p and "tenant" in p for p in report.problems)


def test_changed_entry_with_rehashed_tree_is_caught_by_the_checkpoint(log):
    """A tamperer who rewrites the entry, its leaf and every tree node still cannot match the signed root."""
    audit, db = log
    from gateway.audit import merkle
    from gateway.audit.log import node_key

    with db.engine.connect() as conn:
        body = conn.execute(text("SELECT entry FROM audit_entries WHERE \"index\" = 1")).scalar()
    forged = body.replace('"allow"', '"block"')
    leaf = merkle.leaf_hash(forged.encode())
    sql(db, "UPDATE audit_entries SET entry = :e, leaf_hash = :h WHERE \"index\" = 1", e=forged, h=leaf)
    leaves = []
    with db.engine.connect() as conn:
        for i in range(5):
            leaves.append(conn.execute(text("SELECT entry FROM audit_entries WHERE \"index\" = :i"), {"i": i}).scalar())
    builder = merkle.TreeBuilder()
    for entry in leaves:
        for level, i, h in builder.add(merkle.leaf_hash(entry.encode())):
            sql(db, "UPDATE audit_tree SET hash = :h WHERE node = :n", h=h, n=node_key(level, i))
    report = audit.verify()
    assert not report.ok
    assert report.problems == ["checkpoint at tree size 5: its signed root does not match the entries"]


def test_deleted_entry_detected(log):
    audit, db = log
    sql(db, "DELETE FROM audit_entries WHERE \"index\" = 1")
    report = audit.verify()
    assert not report.ok and any("entry 1" in p for p in report.problems)


def test_deleted_last_entry_and_its_leaf_detected(log):
    audit, db = log
    from gateway.audit.log import node_key

    sql(db, "DELETE FROM audit_entries WHERE \"index\" = 4")
    sql(db, "DELETE FROM audit_tree WHERE node IN (:a)", a=node_key(0, 4))
    report = audit.verify()
    assert not report.ok and any("only 4 leaves" in p for p in report.problems)


def test_reordered_entries_detected(log):
    audit, db = log
    sql(db, "UPDATE audit_entries SET \"index\" = 100 WHERE \"index\" = 1")
    sql(db, "UPDATE audit_entries SET \"index\" = 1 WHERE \"index\" = 3")
    sql(db, "UPDATE audit_entries SET \"index\" = 3 WHERE \"index\" = 100")
    report = audit.verify()
    assert not report.ok
    assert any("entry 1" in p for p in report.problems) and any("entry 3" in p for p in report.problems)


def test_inserted_entry_detected(log):
    audit, db = log
    sql(db, "UPDATE audit_entries SET \"index\" = \"index\" + 1000 WHERE \"index\" >= 3")
    sql(db, "UPDATE audit_entries SET \"index\" = \"index\" - 999 WHERE \"index\" >= 1000")
    sql(db, "INSERT INTO audit_entries (\"index\", time, tenant, actor, event, object_id, entry, leaf_hash) "
            "SELECT 3, time, tenant, actor, event, object_id, entry, leaf_hash FROM audit_entries WHERE \"index\" = 2")
    assert not audit.verify().ok


def test_appends_after_reopen_continue_the_same_tree(tmp_path):
    audit, db = make_log(tmp_path, entries=3)
    first = audit.checkpoint()
    db.dispose()
    again, db = make_log(tmp_path, entries=4)  # a fresh AuditLog: reloads the frontier from the database
    assert again.size() == 7
    report = again.verify()
    assert report.ok, report.problems
    from gateway.audit import merkle

    merkle.verify_consistency(3, 7, first.root_hash, again.root(), again.consistency_proof(3, 7))
    db.dispose()


def test_automatic_checkpoints(tmp_path):
    audit, db = make_log(tmp_path, entries=10, checkpoint_every=4)
    assert [c.tree_size for c in audit.checkpoints()] == [4, 8]
    assert audit.verify().checkpoints == 2
    db.dispose()


def test_retention_prunes_a_prefix_and_the_tree_still_verifies(tmp_path):
    from datetime import timedelta

    from gateway.audit.retention import prune
    from gateway.store.db import utcnow

    audit, db = make_log(tmp_path, entries=6)
    before = audit.root()
    with pytest.raises(ValueError):
        prune(audit, retention_days=30)
    result = prune(audit, retention_days=200, now=utcnow() + timedelta(days=201))
    assert result.deleted == 6 and result.before_index == 6
    assert audit.count() == 1  # only the audit.pruned entry remains
    report = audit.verify()
    assert report.ok, report.problems
    assert report.pruned_before == 6 and report.tree_size == 7
    from gateway.audit import merkle

    merkle.verify_consistency(6, 7, before, audit.root(), audit.consistency_proof(6))
    assert audit.inclusion_proof(2)  # pruned entries' leaves still prove
    db.dispose()


def test_unrecorded_prefix_deletion_is_not_mistaken_for_pruning(log):
    audit, db = log
    sql(db, "DELETE FROM audit_entries WHERE \"index\" < 2")
    report = audit.verify()
    assert not report.ok and any("no retention pruning" in p for p in report.problems)


CRASH_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from gateway.audit import AuditEvent, AuditLog, CheckpointSigner
    from gateway.store.db import Database
    path = Path(sys.argv[1])
    db = Database(f"sqlite:///{path / 'a.db'}")
    log = AuditLog(db, signer=CheckpointSigner.load_or_create(path / "audit.key", "test.example/log"),
                   checkpoint_every=50)
    n = 0
    while True:
        log.append(AuditEvent(event="video.generated", actor="worker", tenant="t", data={"n": n, "pad": "x" * 500}))
        n += 1
        if n == 20:
            print("ready", flush=True)
""")


def test_crash_mid_append_leaves_a_consistent_log(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-c", CRASH_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.4)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    audit, db = make_log(tmp_path, entries=0, checkpoint_every=50)
    report = audit.verify()
    assert report.ok, report.problems
    assert report.entries == report.tree_size >= 20
    audit.append(AuditEvent(event="video.failed", actor="worker"))  # and it carries on
    assert audit.verify().ok
    db.dispose()


def test_partial_prune_then_export_verifies_offline(tmp_path):
    from datetime import timedelta

    from gateway.audit.export import export_lines, verify_export
    from gateway.audit.retention import prune
    from gateway.store.db import utcnow

    audit, db = make_log(tmp_path, entries=4)
    old = (utcnow() - timedelta(days=400)).replace(tzinfo=None)
    sql(db, "UPDATE audit_entries SET time = :t WHERE \"index\" < 2", t=old)
    # Backdating rewrote two columns, so verify flags them until they are pruned: that is the point of the check.
    assert not audit.verify().ok
    result = prune(audit, retention_days=184)
    assert (result.before_index, result.deleted) == (2, 2)
    report = audit.verify()
    assert report.ok, report.problems
    lines = list(export_lines(audit))
    assert '"complete": false' in lines[0] and all('"inclusion"' in line for line in lines[1:])
    assert verify_export(lines, audit.signer.verifier).ok
    lines[1] = lines[1].replace("dec_2", "dec_9")
    assert not verify_export(lines, audit.signer.verifier).ok
    db.dispose()


WRITER_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from gateway.audit import AuditEvent, AuditLog, CheckpointSigner
    from gateway.store.db import Database
    path = Path(sys.argv[1])
    db = Database(f"sqlite:///{path / 'a.db'}")
    log = AuditLog(db, signer=CheckpointSigner.load_or_create(path / "audit.key", "test.example/log"),
                   checkpoint_every=25)
    for n in range(150):
        log.append(AuditEvent(event="provenance.check", actor=sys.argv[2], data={"n": n}))
""")


def test_two_processes_appending_at_once_share_one_tree(tmp_path):
    audit, db = make_log(tmp_path, entries=1)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(tmp_path), name], env=env)
               for name in ("api", "cli")]
    for writer in writers:
        assert writer.wait(60) == 0
    report = audit.verify()
    assert report.ok, report.problems
    assert report.entries == report.tree_size == 301
    db.dispose()


def test_extra_tree_node_detected(log):
    audit, db = log
    from gateway.audit.log import node_key

    sql(db, "INSERT INTO audit_tree (node, hash) VALUES (:n, :h)", n=node_key(1, 7), h=b"\0" * 32)
    report = audit.verify()
    assert not report.ok and any("belong to no leaf" in p for p in report.problems)


def test_verify_while_appending_reports_no_false_problems(tmp_path):
    import threading

    audit, db = make_log(tmp_path, entries=50, checkpoint_every=16)
    stop = threading.Event()

    def writer():
        n = 0
        while not stop.is_set():
            audit.append(AuditEvent(event="provenance.check", actor="key:w", data={"n": n}))
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(5):
            report = audit.verify()
            assert report.ok, report.problems
    finally:
        stop.set()
        thread.join(10)
    db.dispose()
