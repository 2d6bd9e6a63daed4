"""API keys → principals. Keys come from settings or from the development key made on first start."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from ..store.db import ApiKeyRow, Database
from .errors import Unauthorized
from .settings import ApiKeyGrant

DEV_TENANT = "dev"


@dataclass(frozen=True)
class Principal:
    tenant: str
    role: str
    key_id: str  # first 12 hex digits of the key's SHA-256: names the key in the audit log without revealing it

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    def __init__(self, db: Database, grants: list[ApiKeyGrant]) -> None:
        self._db = db
        self._configured = {_digest(g.key): g for g in grants}

    def has_any(self) -> bool:
        if self._configured:
            return True
        with self._db.session() as session:
            return session.scalars(select(ApiKeyRow).limit(1)).first() is not None

    def create_key(self, tenant: str, role: str = "user") -> str:
        key = "hm-" + secrets.token_urlsafe(24)
        with self._db.session.begin() as session:
            session.add(ApiKeyRow(key_sha256=_digest(key), tenant=tenant, role=role))
        return key

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthorized(
                "Missing API key. Send 'Authorization: Bearer <key>' (see the README for the development key).",
                code="missing_api_key",
            )
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise Unauthorized("Malformed Authorization header; expected 'Bearer <key>'.")
        digest = _digest(key)
        for known, grant in self._configured.items():
            if hmac.compare_digest(known, digest):
                return Principal(tenant=grant.tenant, role=grant.role, key_id=digest[:12])
        with self._db.session() as session:
            row = session.get(ApiKeyRow, digest)
        if row is None:
            raise Unauthorized("Incorrect API key provided.")
        return Principal(tenant=row.tenant, role=row.role, key_id=digest[:12])
