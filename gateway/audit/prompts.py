"""Prompts in the audit log: SHA-256 only (the default), or also sealed with AES-256-GCM under a rotating key.

The key file (``<keys dir>/audit-prompt-keys.json``, mode 0600) holds every key ever used, by id, and which one
seals new prompts::

    {"current": "k2", "keys": {"k1": "<base64 32 bytes>", "k2": "<base64 32 bytes>"}}

Rotation adds a key and makes it current; old keys stay so old entries still open. Deleting a key from the file
makes the prompts it sealed unreadable for good while the tree, which covers only the ciphertext, still verifies.
The associated data binds each ciphertext to the prompt's SHA-256 in the same entry.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..core.ids import prompt_sha256

ALGORITHM = "AES-256-GCM"
_AAD_PREFIX = b"hallmark-audit-prompt\n"


class PromptKeyError(ValueError):
    """The key file is missing, malformed, or lacks the key a sealed prompt names."""


class PromptVault:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _read(self) -> dict:
        try:
            state = json.loads(self.path.read_text())
            keys = {kid: base64.b64decode(value) for kid, value in state["keys"].items()}
            current = state["current"]
        except FileNotFoundError as exc:
            raise PromptKeyError(f"no prompt key file at {self.path}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise PromptKeyError(f"{self.path} is not a prompt key file: {exc}") from exc
        if current not in keys or any(len(k) != 32 for k in keys.values()):
            raise PromptKeyError(f"{self.path}: 'current' must name one of its 32-byte keys")
        return {"current": current, "keys": keys}

    def _write(self, current: str, keys: dict[str, bytes]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"current": current, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}},
                      handle, indent=2)
        os.replace(tmp, self.path)

    def ensure(self) -> str:
        """Make the key file with a first key if there is none; returns the current key id."""
        if not self.path.exists():
            self._write("k1", {"k1": AESGCM.generate_key(bit_length=256)})
        return self._read()["current"]

    def rotate(self) -> str:
        """Add a new key and make it current; returns its id."""
        state = self._read() if self.path.exists() else {"keys": {}}
        number = 1 + max((int(k[1:]) for k in state["keys"] if k[1:].isdigit()), default=0)
        kid = f"k{number}"
        self._write(kid, {**state["keys"], kid: AESGCM.generate_key(bit_length=256)})
        return kid

    def seal(self, prompt: str) -> dict:
        state = self._read()
        kid = state["current"]
        nonce = secrets.token_bytes(12)
        aad = _AAD_PREFIX + prompt_sha256(prompt).encode()
        ciphertext = AESGCM(state["keys"][kid]).encrypt(nonce, prompt.encode(), aad)
        return {"alg": ALGORITHM, "kid": kid, "nonce": base64.b64encode(nonce).decode(),
                "ciphertext": base64.b64encode(ciphertext).decode()}

    def open(self, sealed: dict, sha256: str) -> str:
        """The prompt in ``sealed``, checked against the SHA-256 recorded beside it."""
        keys = self._read()["keys"]
        if sealed.get("alg") != ALGORITHM or sealed.get("kid") not in keys:
            raise PromptKeyError(f"no key {sealed.get('kid')!r} for a {sealed.get('alg')} sealed prompt")
        try:
            plain = AESGCM(keys[sealed["kid"]]).decrypt(base64.b64decode(sealed["nonce"]),
                                                        base64.b64decode(sealed["ciphertext"]),
                                                        _AAD_PREFIX + sha256.encode())
        except InvalidTag as exc:
            raise PromptKeyError("sealed prompt does not open: wrong key, or it was altered") from exc
        return plain.decode()
