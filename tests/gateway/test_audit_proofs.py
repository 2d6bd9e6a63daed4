"""Proofs served by the log checked against RFC 6962 written out independently here, and signed checkpoints."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from gateway.audit import AuditEvent, AuditLog, CheckpointError, CheckpointSigner, VerifierKey, merkle
from gateway.store.db import Database

# -- RFC 6962 §2.1, transcribed directly (recursive definitions over the list of entries) -------------------------

def mth(entries: list[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(entries[:k]) + mth(entries[k:])).digest()


def largest_power_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = largest_power_below(n)
    if m < k:
        return path(m, entries[:k]) + [mth(entries[k:])]
    return path(m - k, entries[k:]) + [mth(entries[:k])]


def subproof(m: int, entries: list[bytes], complete: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if complete else [mth(entries)]
    k = largest_power_below(n)
    if m <= k:
        return subproof(m, entries[:k], complete) + [mth(entries[k:])]
    return subproof(m - k, entries[k:], False) + [mth(entries[:k])]


def root_from_path(m: int, n: int, leaf: bytes, audit_path: list[bytes]) -> bytes:
    """Fold the path back up by the same recursion that built it (last element is the top sibling)."""
    if n == 1:
        assert not audit_path
        return leaf
    k = largest_power_below(n)
    *rest, top = audit_path
    if m < k:
        return hashlib.sha256(b"\x01" + root_from_path(m, k, leaf, rest) + top).digest()
    return hashlib.sha256(b"\x01" + top + root_from_path(m - k, n - k, leaf, rest)).digest()


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    path_ = tmp_path_factory.mktemp("proofs")
    db = Database(f"sqlite:///{path_ / 'a.db'}")
    log = AuditLog(db, signer=CheckpointSigner.load_or_create(path_ / "k.key", "test.example/log"), checkpoint_every=0)
    for n in range(21):
        log.append(AuditEvent(event="provenance.check", actor="key:x", tenant="t", data={"n": n}))
    with db.engine.connect() as conn:
        entries = [r[0].encode() for r in conn.execute(text('SELECT entry FROM audit_entries ORDER BY "index"'))]
    yield log, entries
    db.dispose()


def test_roots_match_rfc_mth_for_every_size(filled):
    log, entries = filled
    for n in range(0, 22):
        assert log.root(n) == mth(entries[:n]), n


def test_inclusion_proofs_match_rfc_path_and_fold_to_the_root(filled):
    log, entries = filled
    for n in range(1, 22):
        for m in range(n):
            served = log.inclusion_proof(m, n)
            assert served == path(m, entries[:n]), (m, n)
            leaf = hashlib.sha256(b"\x00" + entries[m]).digest()
            assert root_from_path(m, n, leaf, served) == mth(entries[:n])
            merkle.verify_inclusion(m, n, leaf, served, mth(entries[:n]))


def test_consistency_proofs_match_rfc_subproof_and_verify(filled):
    log, entries = filled
    for n in range(1, 22):
        for m in range(1, n + 1):
            served = log.consistency_proof(m, n)
            assert served == subproof(m, entries[:n], True), (m, n)
            merkle.verify_consistency(m, n, mth(entries[:m]), mth(entries[:n]), served)


def test_wrong_proofs_are_rejected(filled):
    log, entries = filled
    leaf = hashlib.sha256(b"\x00" + entries[5]).digest()
    proof = log.inclusion_proof(5, 21)
    root = mth(entries)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(6, 21, leaf, proof, root)  # wrong index
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(5, 21, leaf, proof[:-1], root)  # truncated
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(5, 21, hashlib.sha256(b"\x00other").digest(), proof, root)
    cons = log.consistency_proof(7, 21)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(7, 21, mth(entries[:8]), root, cons)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(7, 21, mth(entries[:7]), root, cons[1:])


# -- signed notes ---------------------------------------------------------------------------------------------

def test_checkpoint_note_format_and_key_id(filled):
    log, entries = filled
    cp = log.checkpoint()
    body, sig_line = cp.note.split("\n\n")
    assert body.split("\n") == ["test.example/log", "21", base64.b64encode(mth(entries)).decode()]
    assert sig_line.startswith("\u2014 test.example/log ") and sig_line.endswith("\n")
    raw = base64.b64decode(sig_line.split(" ")[2])
    pub = log.signer.verifier.public_key
    assert raw[:4] == hashlib.sha256(b"test.example/log\n\x01" + pub).digest()[:4]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(pub).verify(raw[4:], (body + "\n").encode())
    vkey = str(log.signer.verifier)
    assert VerifierKey.parse(vkey).open(cp.note).tree_size == 21


def test_checkpoint_signed_by_another_key_is_rejected(filled, tmp_path):
    log, _ = filled
    impostor = CheckpointSigner(Ed25519PrivateKey.generate(), "test.example/log")  # same name, other key
    forged = impostor.sign(21, log.root())
    with pytest.raises(CheckpointError, match="not signed by key"):
        log.signer.verifier.open(forged.note)
    tampered = log.checkpoint().note.replace("\n21\n", "\n20\n")
    with pytest.raises(CheckpointError, match="does not verify"):
        log.signer.verifier.open(tampered)


def test_stored_foreign_checkpoint_fails_verify(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    log = AuditLog(db, signer=CheckpointSigner.load_or_create(tmp_path / "k.key", "test.example/log"),
                   checkpoint_every=0)
    for n in range(3):
        log.append(AuditEvent(event="x", actor="y", data={"n": n}))
    impostor = CheckpointSigner(Ed25519PrivateKey.generate(), "test.example/log")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_checkpoints (tree_size, root_hash, note, created_at) "
                          "VALUES (3, :r, :n, '2026-01-01 00:00:00')"),
                     {"r": log.root(), "n": impostor.sign(3, log.root()).note})
    report = log.verify()
    assert not report.ok and any("not signed by key" in p for p in report.problems)
    db.dispose()


def test_key_file_is_made_once_with_mode_0600(tmp_path):
    path = tmp_path / "keys" / "audit-ed25519.key"
    first = CheckpointSigner.load_or_create(path, "a.example/log")
    assert path.stat().st_mode & 0o777 == 0o600
    again = CheckpointSigner.load_or_create(path, "a.example/log")
    assert str(first.verifier) == str(again.verifier)
    assert str(first.verifier).startswith("a.example/log+")
