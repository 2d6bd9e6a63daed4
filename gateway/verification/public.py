"""The public detection tool (SB 942, EU AI Act art. 50): keyless checks of an uploaded file or a URL, answered with
system provenance data only, and feedback on a verdict.

The public answer is built by copying named fields (an allow-list), never by deleting known private ones, so a field
added to the keyed check later stays out of it until someone decides it is public. Left out on purpose: the tenant,
the prompt and its hash, the seed, the moderation decision id, the policy, the internal video id and manifest id,
and of a stripped file's recovered manifest everything but its signer, actions and validation state.

Submitted files are not kept (unless ``HALLMARK_KEEP_CHECK_UPLOADS``, as for keyed checks) and never logged; the audit
entry holds the file's SHA-256, as for every check."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from datetime import timezone
from typing import Any

from sqlalchemy import select

from ..audit import AuditEvent, AuditLog
from ..core.errors import InvalidRequest
from ..media.fetch import UrlFetcher
from ..store.db import Database, PublicFeedbackRow
from .layers import Verdict
from .service import VerificationService

PUBLIC_ACTOR = "public"
MAX_COMMENT_CHARS = 2000
_CHECK_ID = re.compile(r"^cpc_[0-9a-f]{24}$")

_VERDICT_FIELDS = ("origin", "content_id", "confidence", "altered", "evidence", "conflicts")
_RESULT_FIELDS = {
    "c2pa": ("type", "outcome", "validation_state", "trust", "issuer", "signed_at", "time_stamped", "generated_at",
             "claim_generator", "actions", "model", "content_id", "validation_codes"),
    "watermark": ("type", "outcome", "algorithm", "content_id", "confidence", "note"),
    "registry": ("type", "outcome", "method", "content_id", "model", "created_at"),
}
_ACTION_FIELDS = ("action", "when", "software_agent", "digital_source_type")
_RECOVERED_FIELDS = ("validation_state", "trust", "issuer", "actions")
# A timeline segment (gateway.verification.timeline.Segment): where it is in the file and what each layer found
# there. A field the segment gains later is left out until it is named here.
_SEGMENT_FIELDS = ("start", "end", "frames", "thumbnail")
_SEGMENT_WATERMARK_FIELDS = ("detected", "content_id", "confidence")
_SEGMENT_REGISTRY_FIELDS = ("content_id", "frames")


def _pick(source: dict, names: Iterable[str]) -> dict:
    return {name: source[name] for name in names if name in source}


def _actions(actions: Any) -> list[dict]:
    return [_pick(action, _ACTION_FIELDS) for action in actions or [] if isinstance(action, dict)]


def _segment(segment: Any) -> dict | None:
    if hasattr(segment, "to_dict"):
        segment = segment.to_dict()
    if not isinstance(segment, dict):
        return None
    out = _pick(segment, _SEGMENT_FIELDS)
    watermark = segment.get("watermark") if isinstance(segment.get("watermark"), dict) else {}
    registry = segment.get("registry") if isinstance(segment.get("registry"), dict) else None
    out["watermark"] = _pick(watermark, _SEGMENT_WATERMARK_FIELDS)
    out["registry"] = _pick(registry, _SEGMENT_REGISTRY_FIELDS) if registry else None
    # Said once per segment so that a reader need not know the layers: our watermark or our registry found it.
    out["ours"] = registry is not None or bool(watermark.get("detected"))
    out["content_id"] = (registry or {}).get("content_id") or watermark.get("content_id")
    return out


def public_timeline(verdict: Verdict) -> list[dict]:
    """The verdict's per-segment timeline (empty when the check read none)."""
    timeline = getattr(verdict, "timeline", None) or ()
    return [s for s in (_segment(segment) for segment in timeline) if s is not None]


def public_result(verdict: Verdict, *, created_at: int) -> dict:
    """What a member of the public is told about a check (see the module docstring for what is left out)."""
    results = []
    for result in verdict.results():
        fields = _RESULT_FIELDS.get(result.get("type"))
        if fields is None:
            continue
        out = _pick(result, fields)
        if "actions" in out:
            out["actions"] = _actions(out["actions"])
        recovered = result.get("recovered_manifest")
        if isinstance(recovered, dict):
            out["recovered_manifest"] = _pick(recovered, _RECOVERED_FIELDS)
            out["recovered_manifest"]["actions"] = _actions(recovered.get("actions"))
        results.append(out)
    body = {"id": verdict.check_id, "object": "public_provenance_check", "created_at": created_at,
            "generated_by_this_gateway": verdict.generated_here,
            "verdict": _pick(verdict.assessment.to_dict(), _VERDICT_FIELDS), "results": results,
            "timeline": public_timeline(verdict)}
    return body


class PublicChecks:
    def __init__(self, *, verification: VerificationService, fetcher: UrlFetcher, db: Database, audit: AuditLog,
                 clock: Callable[[], float] = time.time) -> None:
        self._verification = verification
        self._fetcher = fetcher
        self._db = db
        self._audit = audit
        self._clock = clock

    def check(self, *, data: bytes | None = None, url: str | None = None) -> dict:
        """Check an uploaded file or the file at ``url`` (fetched under the SSRF rules of ``UrlFetcher``)."""
        if (data is None) == (url is None):
            raise InvalidRequest("Send either a file or a URL.", param="file")
        if url is not None:
            data = self._fetcher.fetch(url)
        assert data is not None
        verdict = self._verification.verify(data, tenant=None, actor=PUBLIC_ACTOR)
        return public_result(verdict, created_at=int(self._clock()))

    def feedback(self, *, check_id: str, verdict_was_wrong: bool, comment: str) -> dict:
        if not _CHECK_ID.fullmatch(check_id):
            raise InvalidRequest("'check_id' is not a check id (cpc_ and 24 hex digits).", param="check_id")
        if len(comment) > MAX_COMMENT_CHARS:
            raise InvalidRequest(f"'comment' is longer than {MAX_COMMENT_CHARS} characters.", param="comment",
                                 code="string_above_max_length")
        with self._db.session.begin() as session:
            row = PublicFeedbackRow(check_id=check_id, verdict_was_wrong=verdict_was_wrong, comment=comment)
            session.add(row)
            session.flush()
            out = _feedback_dict(row)
        # The comment stays in its table (it may hold what a person wrote about themselves); the log says it came.
        self._audit.append(AuditEvent(event="feedback.received", actor=PUBLIC_ACTOR, object_id=check_id,
                                      data={"feedback_id": out["id"], "verdict_was_wrong": verdict_was_wrong,
                                            "comment_chars": len(comment)}))
        return out

    def list_feedback(self, *, limit: int = 100, after: int | None = None) -> list[dict]:
        with self._db.session() as session:
            query = select(PublicFeedbackRow).order_by(PublicFeedbackRow.id).limit(limit)
            if after is not None:
                query = query.where(PublicFeedbackRow.id > after)
            return [_feedback_dict(row) for row in session.scalars(query)]


def _feedback_dict(row: PublicFeedbackRow) -> dict:
    created = row.created_at
    if created is not None and created.tzinfo is None:  # SQLite hands it back without its zone (UTC)
        created = created.replace(tzinfo=timezone.utc)
    return {"id": row.id, "object": "public_feedback", "check_id": row.check_id,
            "verdict_was_wrong": row.verdict_was_wrong, "comment": row.comment,
            "created_at": int(created.timestamp()) if created else None}
