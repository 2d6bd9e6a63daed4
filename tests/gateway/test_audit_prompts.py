"""Prompts reach the audit log only as SHA-256, or AES-GCM sealed with rotating keys; never in clear."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from gateway.audit import AuditEvent, AuditLog
from gateway.audit.prompts import PromptKeyError, PromptVault
from gateway.store.db import Database

PROMPT = "a paper boat drifting down a rainy street"


def all_text(db) -> str:
    with db.engine.connect() as conn:
        return " ".join(r[0] for r in conn.execute(text("SELECT entry FROM audit_entries")))


def test_hash_mode_keeps_only_the_digest(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    log = AuditLog(db)
    index = log.append(AuditEvent(event="policy.decision", actor="a", prompt=PROMPT))
    assert log.entry(index).data == {"prompt_sha256": hashlib.sha256(PROMPT.encode()).hexdigest()}
    assert PROMPT not in all_text(db) and PROMPT not in repr(AuditEvent(event="x", actor="a", prompt=PROMPT))
    db.dispose()


def test_encrypted_mode_seals_rotates_and_opens(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    vault = PromptVault(tmp_path / "keys" / "audit-prompt-keys.json")
    assert vault.ensure() == "k1"
    assert (vault.path.stat().st_mode & 0o777) == 0o600
    log = AuditLog(db, prompts=vault)
    first = log.append(AuditEvent(event="policy.decision", actor="a", prompt=PROMPT))
    assert vault.rotate() == "k2"
    second = log.append(AuditEvent(event="policy.decision", actor="a", prompt=PROMPT + " at night"))
    assert PROMPT not in all_text(db)
    one, two = log.entry(first).data, log.entry(second).data
    assert one["prompt_encrypted"]["kid"] == "k1" and two["prompt_encrypted"]["kid"] == "k2"
    assert vault.open(one["prompt_encrypted"], one["prompt_sha256"]) == PROMPT  # old key still opens
    assert vault.open(two["prompt_encrypted"], two["prompt_sha256"]) == PROMPT + " at night"
    with pytest.raises(PromptKeyError):  # bound to its own hash: cannot be swapped onto another entry
        vault.open(one["prompt_encrypted"], two["prompt_sha256"])
    assert log.verify().ok
    db.dispose()


def test_settings_select_the_mode(tmp_path):
    from gateway.core.settings import Settings

    settings = Settings(data_dir=tmp_path, audit_prompts="encrypted")
    settings.ensure_dirs()
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    log = AuditLog.from_settings(db, settings)
    assert log.prompts is not None and (settings.keys_dir / "audit-prompt-keys.json").exists()
    assert AuditLog.from_settings(db, Settings(data_dir=tmp_path)).prompts is None
    db.dispose()


def test_rotate_prompt_key_cli_is_audited(tmp_path):
    import subprocess
    import sys

    from gateway.bootstrap import Runtime
    from gateway.core.settings import Settings

    for expected in ("k1", "k2"):
        run = subprocess.run([sys.executable, "-m", "gateway", "audit", "rotate-prompt-key", "--data-dir",
                              str(tmp_path)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert f"prompt key {expected} is now current" in run.stdout
    rt = Runtime(Settings(data_dir=tmp_path))
    try:
        rotations = rt.audit.entries(event="keys.prompt_key_rotated")
        assert [r.data["kid"] for r in rotations] == ["k1", "k2"]
        assert rt.audit.verify().ok
    finally:
        rt.close()
