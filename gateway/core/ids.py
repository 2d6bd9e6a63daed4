"""Identifiers and digests that cross the gateway's seams: a video's 64-bit content id (what the watermark carries),
the video id derived from it, check and decision ids, and the prompt's SHA-256 (what the audit log and the manifest
record instead of the prompt)."""

from __future__ import annotations

import hashlib
import secrets


def new_content_id() -> int:
    return secrets.randbits(64)


def content_id_hex(content_id: int) -> str:
    return f"{content_id:016x}"


def video_id_for(content_id: int) -> str:
    return f"video_{content_id_hex(content_id)}"


def new_decision_id() -> str:
    return "dec_" + secrets.token_hex(12)


def new_check_id() -> str:
    return "cpc_" + secrets.token_hex(12)


def prompt_sha256(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()
