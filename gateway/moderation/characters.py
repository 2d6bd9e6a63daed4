"""Registered likenesses. A *character* is a consenting person's likeness, registered by a tenant from a video of
them (OpenAI's ``videos.create_character``): its owner may use it, may share it with other tenants, and may revoke
it. A *protected person* is one an operator registered so that nobody may depict them (a public figure).

Only face embeddings are kept (the uploaded video only when the operator configured it). A revoked character keeps
its embeddings, so that the likeness stays protected: revoking consent stops every further use, the owner's too.
Faces in reference images and output frames are matched here; the policy pack decides (``policies.visual``)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import delete, select

from policies.visual import FaceMatch

from ..audit import AuditEvent, AuditLog
from ..core.auth import Principal
from ..core.errors import GatewayError, InvalidRequest, NotFound
from ..core.lazy import Lazy
from ..media import decode_upload, evenly_spaced
from ..store.assets import AssetStore
from ..store.db import CharacterGrantRow, CharacterRow, Database, utcnow

if TYPE_CHECKING:  # the classifiers package imports torch; commands that never match faces should not pay for it
    from classifiers.visual import FaceEmbedder

__all__ = ["CharacterService", "LikenessConflict", "MAX_NAME_CHARS"]

MAX_NAME_CHARS = 80  # OpenAI's limit on a character's name
MAX_CHARACTERS = 8  # characters one request may name
NAME_STAND_INS = ("a person", "someone")  # what a character's name becomes when the rest of a prompt is judged
FRAMES_SAMPLED = 8  # frames of the uploaded video searched for the face
_EVENT = {"character": "character", "protected": "protected_person"}  # audit event prefix per kind
SAME_PERSON_DISTANCE = 0.6  # the faces of one registration must all be this close (dlib's own operating point)


class LikenessConflict(GatewayError):
    """The face is already registered as someone else's character or as a protected person."""

    status = 409
    code = "likeness_already_registered"


@dataclass(frozen=True)
class _Known:
    id: str
    kind: str
    owner: str | None
    revoked: bool
    grants: frozenset[str]
    vectors: np.ndarray  # K×128

    def consented_for(self, tenant: str) -> bool:
        return self.kind == "character" and not self.revoked and (tenant == self.owner or tenant in self.grants)


def _distances(vector: np.ndarray, stored: np.ndarray) -> np.ndarray:
    from classifiers.visual import face_distances

    return face_distances(vector, stored)


def _created(row: CharacterRow) -> int:
    return int(row.created_at.timestamp()) if row.created_at else 0


class CharacterService:
    def __init__(self, *, db: Database, audit: AuditLog, assets: AssetStore, faces: Lazy[FaceEmbedder],
                 keep_videos: bool = False, max_distance: float | None = None) -> None:
        """``max_distance``: face descriptor distance for a match (default
        ``classifiers.visual.FACE_MATCH_DISTANCE``)."""
        self._db = db
        self._audit = audit
        self._assets = assets
        self._faces = faces
        self._keep_videos = keep_videos
        self._max_distance = max_distance

    @property
    def max_distance(self) -> float:
        if self._max_distance is None:
            from classifiers.visual import FACE_MATCH_DISTANCE

            self._max_distance = FACE_MATCH_DISTANCE
        return self._max_distance

    # -- characters (a tenant's own likeness) ----------------------------------------------------------------------
    def create(self, principal: Principal, *, name: str | None, video: bytes) -> dict:
        name = (name or "").strip()
        if not name or len(name) > MAX_NAME_CHARS:
            raise InvalidRequest(f"'name' must be 1 to {MAX_NAME_CHARS} characters.", param="name")
        row = self._register(kind="character", owner=principal.tenant, name=name, data=video, param="video",
                             actor=principal.actor)
        return self._to_dict(row, principal)

    def get(self, principal: Principal, character_id: str) -> dict:
        row, grants = self._visible(principal.tenant, character_id)
        return self._to_dict(row, principal, grants)

    def revoke(self, principal: Principal, character_id: str) -> None:
        """The owner withdraws consent: no tenant may use the likeness any more (it stays registered, protected)."""
        row, _ = self._owned(principal, character_id)
        with self._db.session.begin() as session:
            session.execute(delete(CharacterGrantRow).where(CharacterGrantRow.character_id == row.id))
            current = session.get(CharacterRow, row.id)
            current.revoked_at = utcnow()
            video_path, current.video_path = current.video_path, None
        if video_path:
            self._assets.delete(video_path)
        self._audit.append(AuditEvent(event="character.revoked", actor=principal.actor, tenant=principal.tenant,
                                      object_id=row.id, data={}))

    def share(self, principal: Principal, character_id: str, tenant: str) -> dict:
        tenant = (tenant or "").strip()
        if not tenant or len(tenant) > 128:
            raise InvalidRequest("'tenant' must name the account to share with.", param="tenant")
        row, _ = self._owned(principal, character_id)
        if tenant != principal.tenant:
            with self._db.session.begin() as session:
                session.merge(CharacterGrantRow(character_id=row.id, tenant=tenant, created_at=utcnow()))
            self._audit.append(AuditEvent(event="character.shared", actor=principal.actor, tenant=principal.tenant,
                                          object_id=row.id, data={"with": tenant}))
        return self.get(principal, character_id)

    def unshare(self, principal: Principal, character_id: str, tenant: str) -> dict:
        row, _ = self._owned(principal, character_id)
        with self._db.session.begin() as session:
            gone = session.execute(delete(CharacterGrantRow).where(CharacterGrantRow.character_id == row.id,
                                                                   CharacterGrantRow.tenant == tenant)).rowcount
        if not gone:
            raise NotFound(f"Character '{character_id}' is not shared with '{tenant}'.", param="tenant")
        self._audit.append(AuditEvent(event="character.unshared", actor=principal.actor, tenant=principal.tenant,
                                      object_id=row.id, data={"with": tenant}))
        return self.get(principal, character_id)

    def require_usable(self, tenant: str, field: str | None) -> list[str]:
        """The character ids a request names in its ``characters`` field (comma- or space-separated), each one the
        tenant may use: 404 for one it may not (as for an id that does not exist) or one revoked."""
        ids = list(dict.fromkeys(part for part in re.split(r"[\s,]+", field or "") if part))
        if len(ids) > MAX_CHARACTERS:
            raise InvalidRequest(f"A request may name at most {MAX_CHARACTERS} characters.", param="characters")
        for character_id in ids:
            row, _ = self._visible(tenant, character_id, param="characters")
            if row.revoked_at is not None:
                raise NotFound(f"Character '{character_id}' was revoked by its owner.", param="characters")
        return ids

    def mask_names(self, prompt: str, character_ids: list[str]) -> list[str]:
        """The prompt with the names of these characters replaced by a stand-in for a person, once per stand-in; []
        when none of the names occurs. Used to judge ``real_person`` on everything but the consented characters: the
        prompt classifier scores any name as a real person. One stand-in alone can hide another name from it ("a
        person and <a celebrity>" scores low, "someone and <a celebrity>" high), so the caller takes the highest
        score over all of them."""
        if not character_ids:
            return []
        with self._db.session() as session:
            names = [n for n in session.scalars(select(CharacterRow.name).where(CharacterRow.id.in_(character_ids)))]
        patterns = [re.compile(r"(?<!\w)" + re.escape(name.strip()) + r"(?!\w)", re.IGNORECASE)
                    for name in sorted(names, key=len, reverse=True) if name.strip()]
        if not any(p.search(prompt) for p in patterns):
            return []
        out = []
        for stand_in in NAME_STAND_INS:
            masked = prompt
            for pattern in patterns:
                masked = pattern.sub(stand_in, masked)
            out.append(masked)
        return out

    # -- protected persons (operators) -----------------------------------------------------------------------------
    def protect(self, *, name: str | None, data: bytes, actor: str) -> dict:
        name = (name or "").strip()
        if not name or len(name) > MAX_NAME_CHARS:
            raise InvalidRequest(f"'name' must be 1 to {MAX_NAME_CHARS} characters.", param="name")
        row = self._register(kind="protected", owner=None, name=name, data=data, param="file", actor=actor)
        return _protected_dict(row)

    def protected(self) -> list[dict]:
        with self._db.session() as session:
            rows = session.scalars(select(CharacterRow).where(CharacterRow.kind == "protected")
                                   .order_by(CharacterRow.created_at))
            return [_protected_dict(r) for r in rows]

    def unprotect(self, person_id: str, *, actor: str) -> None:
        with self._db.session.begin() as session:
            gone = session.execute(delete(CharacterRow).where(CharacterRow.id == person_id,
                                                              CharacterRow.kind == "protected")).rowcount
        if not gone:
            raise NotFound(f"No protected person with id '{person_id}'.", param="person_id")
        self._audit.append(AuditEvent(event="protected_person.removed", actor=actor, object_id=person_id, data={}))

    # -- matching --------------------------------------------------------------------------------------------------
    def match(self, vectors: list[np.ndarray], where: list[str], *, tenant: str) -> list[FaceMatch]:
        """Each face's closest registered likeness within ``max_distance``, as the policy sees it."""
        if not vectors:
            return []
        known = self._known()
        out: list[FaceMatch] = []
        for vector, label in zip(vectors, where):
            nearest = self._nearest(known, vector)
            if nearest is None:
                continue
            entry, distance = nearest
            if entry.kind == "protected":
                kind = "protected"
            elif entry.consented_for(tenant):
                kind = "consented"
            else:
                kind = "not_consented"
            out.append(FaceMatch(kind=kind, distance=distance, max_distance=self.max_distance, where=label,
                                 character_id=entry.id if kind == "consented" else None))
        return out

    # -- internals -------------------------------------------------------------------------------------------------
    def _nearest(self, known: list[_Known], vector: np.ndarray) -> tuple[_Known, float] | None:
        best: tuple[_Known, float] | None = None
        for entry in known:
            distance = float(_distances(vector, entry.vectors).min())
            if distance <= self.max_distance and (best is None or distance < best[1]):
                best = (entry, distance)
        return best

    def _register(self, *, kind: str, owner: str | None, name: str, data: bytes, param: str,
                  actor: str) -> CharacterRow:
        if not data:
            raise InvalidRequest(f"'{param}' is required: a video (or image) of the person.", param=param)
        media = decode_upload(data, param=param, select=lambda total, _h, _w: evenly_spaced(total, FRAMES_SAMPLED))
        embedder = self._faces.get()
        vectors = []
        for frame in media.frames:
            faces = embedder.embed(frame, max_faces=1)
            if faces:
                vectors.append(faces[0].vector)
        if not vectors:
            raise InvalidRequest(f"No face was found in '{param}': upload a clip in which the person's face is seen "
                                 "from the front.", param=param, code="no_face_found")
        stack = np.stack(vectors)
        spread = max(float(_distances(v, stack).max()) for v in stack)
        if spread > SAME_PERSON_DISTANCE:
            raise InvalidRequest(f"The faces in '{param}' do not all belong to one person: register one person per "
                                 "upload.", param=param, code="several_people")
        # Nobody may register a likeness that is already someone else's character or a protected person.
        for entry in self._known():
            if entry.owner == owner and entry.kind == kind == "character" and not entry.revoked:
                continue
            if min(float(_distances(v, entry.vectors).min()) for v in stack) <= self.max_distance:
                self._audit.append(AuditEvent(event=f"{_EVENT[kind]}.refused", actor=actor, tenant=owner,
                                              data={"reason": "likeness_already_registered", "faces": len(vectors)}))
                raise LikenessConflict("This face is already registered (as another account's character or as a "
                                       "protected person), so it cannot be registered again.", param=param)
        prefix = "char_" if kind == "character" else "person_"
        row = CharacterRow(id=prefix + secrets.token_hex(12), name=name, kind=kind, owner_tenant=owner,
                           embeddings=[[round(float(x), 6) for x in v] for v in vectors],
                           video_sha256=hashlib.sha256(data).hexdigest(), created_at=utcnow())
        if self._keep_videos:
            row.video_path = f"{row.id}.upload"
            self._assets.put(row.video_path, data)
        with self._db.session.begin() as session:
            session.add(row)
        self._audit.append(AuditEvent(event=f"{_EVENT[kind]}.registered", actor=actor, tenant=owner, object_id=row.id,
                                      data={"faces": len(vectors), "video_sha256": row.video_sha256,
                                            "video_kept": row.video_path is not None, "model": embedder.name}))
        return row

    def _known(self) -> list[_Known]:
        with self._db.session() as session:
            rows = list(session.scalars(select(CharacterRow)))
            grants: dict[str, set[str]] = {}
            for grant in session.scalars(select(CharacterGrantRow)):
                grants.setdefault(grant.character_id, set()).add(grant.tenant)
        return [_Known(id=r.id, kind=r.kind, owner=r.owner_tenant, revoked=r.revoked_at is not None,
                       grants=frozenset(grants.get(r.id, ())), vectors=np.asarray(r.embeddings, dtype=np.float32))
                for r in rows if r.embeddings]

    def _visible(self, tenant: str, character_id: str, *, param: str = "character_id"
                 ) -> tuple[CharacterRow, list[str]]:
        with self._db.session() as session:
            row = session.get(CharacterRow, character_id)
            grants = list(session.scalars(select(CharacterGrantRow.tenant)
                                          .where(CharacterGrantRow.character_id == character_id)))
        # Another tenant's character reads exactly like a missing one, unless it was shared with this tenant.
        if row is None or row.kind != "character" or (row.owner_tenant != tenant and tenant not in grants):
            raise NotFound(f"No character found with id '{character_id}'.", param=param)
        return row, grants

    def _owned(self, principal: Principal, character_id: str) -> tuple[CharacterRow, list[str]]:
        row, grants = self._visible(principal.tenant, character_id)
        if row.owner_tenant != principal.tenant or row.revoked_at is not None:
            raise NotFound(f"No character of yours with id '{character_id}'.", param="character_id")
        return row, grants

    def _to_dict(self, row: CharacterRow, principal: Principal, grants: list[str] | None = None) -> dict:
        owner = row.owner_tenant == principal.tenant
        body = {"id": row.id, "object": "character", "created_at": _created(row), "name": row.name,
                "status": "revoked" if row.revoked_at is not None else "active", "owned": owner,
                "faces": len(row.embeddings or [])}
        if owner:
            body["shared_with"] = sorted(grants or [])
        return body


def _protected_dict(row: CharacterRow) -> dict:
    return {"id": row.id, "object": "protected_person", "created_at": _created(row), "name": row.name,
            "faces": len(row.embeddings or [])}
