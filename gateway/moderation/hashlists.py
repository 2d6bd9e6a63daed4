"""Operators' lists of known-harmful images as PDQ hashes (the format of industry hash-sharing programmes): import
(a text file of hex hashes, one a line, or a CSV with one such column), list, remove, and the matcher every reference
image and sampled output frame goes through. A match is a fact for the policy pack (``policies.visual``); the
matched picture is never stored, only the list's name and the distance are audited."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, func, select

from policies.visual import HashMatch

from ..audit import AuditEvent, AuditLog
from ..core.errors import InvalidRequest, NotFound
from ..store.db import Database, HashListEntryRow, HashListRow, utcnow

__all__ = ["HashListService", "PDQ_MIN_QUALITY", "parse_hash_list"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
# PDQ's own quality: below 50 an image is too flat (a plain background) for its hash to identify it; such hashes are
# neither imported from a picture nor matched, as the hash-sharing programmes advise.
PDQ_MIN_QUALITY = 50
MAX_ENTRIES = 1_000_000


def parse_hash_list(text: str) -> list[str]:
    """Hex PDQ hashes from a list file: one a line, or CSV rows where one field is the hash (a header row, blank
    lines and ``#`` comments are skipped). Any other line is refused, with its number."""
    hashes: list[str] = []
    bad: list[int] = []
    first = True
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip().strip('"') for f in line.split(",")]
        found = [f for f in fields if _HEX64.fullmatch(f)]
        if len(found) == 1:
            hashes.append(found[0].lower())
        elif not (first and not found):  # only the first row may be a header
            bad.append(number)
        first = False
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (" …" if len(bad) > 10 else "")
        raise InvalidRequest(f"The hash list has {len(bad)} line(s) without exactly one 64-hex-digit PDQ hash "
                             f"(lines {shown}).", param="file")
    if not hashes:
        raise InvalidRequest("The hash list holds no PDQ hash (64 hex digits a line, or a CSV column of them).",
                             param="file")
    if len(hashes) > MAX_ENTRIES:
        raise InvalidRequest(f"A list holds at most {MAX_ENTRIES} hashes.", param="file")
    return sorted(set(hashes))


@dataclass(frozen=True)
class _Snapshot:
    key: tuple
    names: list[str]
    actions: dict[str, str]
    owners: np.ndarray  # index into names, per row
    bits: np.ndarray  # N×32 uint8


class HashListService:
    def __init__(self, *, db: Database, audit: AuditLog, max_distance: int | None = None) -> None:
        """``max_distance``: PDQ bits that may differ for a match (default
        ``classifiers.visual.PDQ_MATCH_DISTANCE``)."""
        self._db = db
        self._audit = audit
        self._max_distance = max_distance
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    # -- administration -----------------------------------------------------------------------------------------
    def import_list(self, *, name: str, action: str, data: bytes, source: str, actor: str) -> dict:
        """Create or replace the list ``name`` with the hashes in ``data``."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidRequest("'name' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
                                 "digit.", param="name")
        if action not in ("review", "block"):
            raise InvalidRequest("'action' must be 'block' or 'review'.", param="action")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidRequest("The hash list must be UTF-8 text (hex PDQ hashes, or a CSV).", param="file") from None
        hashes = parse_hash_list(text)
        now = utcnow()
        with self._db.session.begin() as session:
            existed = session.get(HashListRow, name) is not None
            session.execute(delete(HashListEntryRow).where(HashListEntryRow.list_name == name))
            session.merge(HashListRow(name=name, action=action, source=source[:256], updated_at=now,
                                      **({} if existed else {"created_at": now})))
            session.add_all([HashListEntryRow(list_name=name, pdq=h) for h in hashes])
        self._audit.append(AuditEvent(event="hash_list.imported", actor=actor, object_id=name,
                                      data={"action": action, "entries": len(hashes), "source": source[:256],
                                            "replaced": existed}))
        return {"name": name, "object": "hash_list", "action": action, "entries": len(hashes),
                "source": source[:256], "updated_at": int(now.timestamp())}

    def list(self) -> list[dict]:
        with self._db.session() as session:
            counts = dict(session.execute(select(HashListEntryRow.list_name, func.count())
                                          .group_by(HashListEntryRow.list_name)).all())
            rows = list(session.scalars(select(HashListRow).order_by(HashListRow.name)))
        return [{"name": r.name, "object": "hash_list", "action": r.action, "entries": counts.get(r.name, 0),
                 "source": r.source, "updated_at": int(r.updated_at.timestamp())} for r in rows]

    def remove(self, name: str, *, actor: str) -> None:
        with self._db.session.begin() as session:
            removed = session.execute(delete(HashListRow).where(HashListRow.name == name)).rowcount
            session.execute(delete(HashListEntryRow).where(HashListEntryRow.list_name == name))
        if not removed:
            raise NotFound(f"No hash list named '{name}'.", param="name")
        self._audit.append(AuditEvent(event="hash_list.removed", actor=actor, object_id=name, data={}))

    # -- matching -----------------------------------------------------------------------------------------------
    def match(self, hashes: list[tuple[str, int]], where: list[str]) -> list[HashMatch]:
        """The lists each picture's PDQ hash (with its quality) falls within ``max_distance`` of: one match per list,
        its closest picture. Pictures below ``PDQ_MIN_QUALITY`` are not matched."""
        snap = self._current()
        if snap.bits.size == 0:
            return []
        from classifiers.visual import pdq_distances, pdq_hex_to_bits  # torch-free, but its package imports torch
        best: dict[str, HashMatch] = {}
        for (hex_hash, quality), label in zip(hashes, where):
            if quality < PDQ_MIN_QUALITY:
                continue
            distances = pdq_distances(pdq_hex_to_bits(hex_hash), snap.bits)
            for index in np.flatnonzero(distances <= self.max_distance):
                name = snap.names[snap.owners[index]]
                distance = int(distances[index])
                if name not in best or distance < best[name].distance:
                    best[name] = HashMatch(list_name=name, action=snap.actions[name], distance=distance,
                                           max_distance=self.max_distance, where=label)
        return sorted(best.values(), key=lambda m: m.list_name)

    @property
    def max_distance(self) -> int:
        if self._max_distance is None:
            from classifiers.visual import PDQ_MATCH_DISTANCE

            self._max_distance = PDQ_MATCH_DISTANCE
        return self._max_distance

    def _current(self) -> _Snapshot:
        """All entries as one array, re-read when any list changed (in this or another process)."""
        with self._db.session() as session:
            key = tuple(session.execute(select(func.count(), func.max(HashListRow.updated_at))
                                        .select_from(HashListRow)).one())
        with self._lock:
            if self._snapshot is not None and self._snapshot.key == key:
                return self._snapshot
            with self._db.session() as session:
                actions = dict(session.execute(select(HashListRow.name, HashListRow.action)).all())
                entries = session.execute(select(HashListEntryRow.list_name, HashListEntryRow.pdq)
                                          .order_by(HashListEntryRow.list_name)).all()
            names = sorted(actions)
            position = {n: i for i, n in enumerate(names)}
            entries = [(n, h) for n, h in entries if n in position]
            bits = (np.frombuffer(bytes.fromhex("".join(h for _, h in entries)), dtype=np.uint8).reshape(-1, 32)
                    if entries else np.empty((0, 32), dtype=np.uint8))
            owners = np.asarray([position[n] for n, _ in entries], dtype=np.int64)
            self._snapshot = _Snapshot(key=key, names=names, actions=actions, owners=owners, bits=bits)
            return self._snapshot
