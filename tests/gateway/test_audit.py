"""The audit log is append-only and hash-chained: any change, deletion, reorder or insertion shows."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from gateway.audit import AuditEvent, AuditLog
from gateway.db import Database


@pytest.fixture()
def log(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    audit = AuditLog(db)
    for n in range(5):
        audit.append(AuditEvent(event="policy.decision", actor="key:abc", tenant="t", object_id=f"dec_{n}",
                                data={"action": "allow", "n": n}))
    yield audit, db
    db.dispose()


def test_intact_chain_verifies(log):
    audit, _ = log
    report = audit.verify_chain()
    assert report.ok and report.entries == 5


def test_changed_entry_detected(log):
    audit, db = log
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET data = :d WHERE \"index\" = 2"), {"d": json.dumps({"action": "block", "n": 2})})
    report = audit.verify_chain()
    assert not report.ok and any("entry 2" in p for p in report.problems)


def test_deleted_entry_detected(log):
    audit, db = log
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE \"index\" = 1"))
    assert not audit.verify_chain().ok


def test_reordered_entries_detected(log):
    audit, db = log
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET \"index\" = 100 WHERE \"index\" = 1"))
        conn.execute(text("UPDATE audit_log SET \"index\" = 1 WHERE \"index\" = 3"))
        conn.execute(text("UPDATE audit_log SET \"index\" = 3 WHERE \"index\" = 100"))
    assert not audit.verify_chain().ok


def test_inserted_entry_detected(log):
    audit, db = log
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET \"index\" = \"index\" + 1000 WHERE \"index\" >= 3"))
        conn.execute(text("UPDATE audit_log SET \"index\" = \"index\" - 999 WHERE \"index\" >= 1000"))
    with db.engine.begin() as conn:
        row = conn.execute(text("SELECT * FROM audit_log WHERE \"index\" = 2")).mappings().one()
        values = dict(row)
        values["index"] = 3
        values["prev_hash"] = row["entry_hash"]
        conn.execute(text("INSERT INTO audit_log (\"index\", time, tenant, actor, event, object_id, data, prev_hash,"
                          " entry_hash) VALUES (:index, :time, :tenant, :actor, :event, :object_id, :data,"
                          " :prev_hash, :entry_hash)"), values)
    assert not audit.verify_chain().ok
