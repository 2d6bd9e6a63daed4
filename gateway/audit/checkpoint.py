"""Signed tree heads: C2SP ``tlog-checkpoint`` bodies in C2SP ``signed-note`` envelopes, signed with Ed25519.

A checkpoint note reads::

    <origin>
    <tree size, decimal>
    <base64 root hash>

    — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>

The key id is the first four bytes of SHA-256(key name || 0x0A || 0x01 || public key); the signature covers the
note text up to and including the root-hash line's newline. The public key travels as a verifier key string
``<name>+<hex key id>+<base64(0x01 || public key)>`` (the form Go's ``sumdb/note`` and other tlog tools read).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash, space


class CheckpointError(ValueError):
    """A checkpoint that is malformed, or not signed by the key it must be signed by."""


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise CheckpointError(f"key name {name!r} must be non-empty with no spaces or '+'")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    note: str  # the whole signed note, as served

    def body(self) -> str:
        return checkpoint_body(self.origin, self.tree_size, self.root_hash)


def checkpoint_body(origin: str, tree_size: int, root_hash: bytes) -> str:
    return f"{origin}\n{tree_size}\n{base64.b64encode(root_hash).decode()}\n"


@dataclass(frozen=True)
class VerifierKey:
    """The public half: a key name and an Ed25519 public key. Parse from / print as a vkey string."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        try:
            name, hex_id, encoded = text.strip().split("+", 2)
            raw = base64.b64decode(encoded, validate=True)
            kid = bytes.fromhex(hex_id)
        except (ValueError, binascii.Error) as exc:
            raise CheckpointError(f"not a verifier key 'name+keyid+base64': {text.strip()[:80]!r}") from exc
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise CheckpointError("verifier key is not an Ed25519 (type 0x01) key")
        key = cls(name=name, public_key=raw[1:])
        _check_name(name)
        if key.key_id != kid:
            raise CheckpointError("verifier key's key id does not match its name and public key")
        return key

    def open(self, note: str) -> Checkpoint:
        """Verify ``note`` is signed by this key and parse it as a checkpoint; raise CheckpointError if not."""
        text, signatures = _split_note(note)
        ours = [(name, sig) for name, sig in signatures if name == self.name and sig[:4] == self.key_id]
        if not ours:
            names = ", ".join(sorted({n for n, _ in signatures})) or "none"
            raise CheckpointError(f"checkpoint is not signed by key {self.name} ({self.key_id.hex()}); "
                                  f"signatures found from: {names}")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(ours[0][1][4:], text.encode())
        except InvalidSignature as exc:
            raise CheckpointError(f"checkpoint signature by {self.name} does not verify") from exc
        return parse_body(text, note)


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise CheckpointError("signed note contains control characters")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise CheckpointError("not a signed note: no blank line before the signatures")
    text, sig_block = note[:cut + 1], note[cut + 2:]
    signatures: list[tuple[str, bytes]] = []
    for line in sig_block[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise CheckpointError(f"malformed signature line {line[:60]!r}")
        name, _, encoded = line[len(SIG_PREFIX):].partition(" ")
        try:
            sig = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise CheckpointError(f"signature line for {name} is not base64") from exc
        if len(sig) < 5 or not name:
            raise CheckpointError(f"malformed signature line for {name!r}")
        signatures.append((name, sig))
    return text, signatures


def parse_body(text: str, note: str = "") -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0]:
        raise CheckpointError("checkpoint body needs origin, tree size and root hash lines")
    origin, size_line, root_line = lines[0], lines[1], lines[2]
    if not size_line.isdigit() or (size_line != "0" and size_line.startswith("0")):
        raise CheckpointError(f"checkpoint tree size {size_line!r} is not a decimal number")
    try:
        root = base64.b64decode(root_line, validate=True)
    except binascii.Error as exc:
        raise CheckpointError("checkpoint root hash is not base64") from exc
    if len(root) != 32:
        raise CheckpointError("checkpoint root hash is not 32 bytes")
    return Checkpoint(origin=origin, tree_size=int(size_line), root_hash=root, note=note or text)


class CheckpointSigner:
    """The log's Ed25519 key; the key name is the log's origin line, as tlog-checkpoint recommends."""

    def __init__(self, private_key: Ed25519PrivateKey, name: str) -> None:
        _check_name(name)
        self._key = private_key
        self.name = name
        raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.verifier = VerifierKey(name=name, public_key=raw)

    @classmethod
    def load_or_create(cls, path: Path, name: str) -> CheckpointSigner:
        """Read the PEM key at ``path``, making it (mode 0600) on first start."""
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            try:  # O_EXCL: two processes starting at once must not end up with two keys
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise CheckpointError(f"{path} is not an Ed25519 private key")
        return cls(key, name)

    def sign(self, tree_size: int, root_hash: bytes) -> Checkpoint:
        text = checkpoint_body(self.name, tree_size, root_hash)
        sig = self._key.sign(text.encode())
        line = f"{SIG_PREFIX}{self.name} {base64.b64encode(self.verifier.key_id + sig).decode()}\n"
        return Checkpoint(origin=self.name, tree_size=tree_size, root_hash=root_hash, note=text + "\n" + line)
