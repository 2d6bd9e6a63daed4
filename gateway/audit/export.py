"""Export entries (jsonl with proofs, or csv for spreadsheets) and verify a jsonl export offline.

A jsonl export's first line is the signed checkpoint it was cut against; each further line is one entry with its
canonical text and, unless the export holds the whole tree, its inclusion proof. ``verify_export`` needs only
those lines and the log's public key (verifier key string): no database, no trust in the operator.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Iterator

from . import merkle
from .checkpoint import CheckpointError, VerifierKey
from .log import AuditLog, as_utc

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ["index", "time", "tenant", "actor", "event", "object_id", "data", "leaf_hash", "entry"]


def export_lines(log: AuditLog, *, fmt: str = "jsonl", since: datetime | None = None,
                 until: datetime | None = None) -> Iterator[str]:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    checkpoint = log.checkpoint()
    size = checkpoint.tree_size
    oldest = log.entries(limit=1)
    # Complete: every leaf's entry is in the file, so the verifier recomputes the root instead of reading proofs.
    complete = since is None and until is None and size > 0 and bool(oldest) and oldest[0].index == 0
    rows = (r for r in log.iter_entries() if r.index < size
            and (since is None or as_utc(r.time) >= since) and (until is None or as_utc(r.time) < until))
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow([row.index, json.loads(row.entry)["time"], row.tenant or "", row.actor, row.event,
                             row.object_id or "", json.dumps(row.data, sort_keys=True), bytes(row.leaf_hash).hex(),
                             row.entry])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        return
    header = {"type": "checkpoint", "tree_size": size, "note": checkpoint.note, "complete": complete,
              "public_key": str(log.signer.verifier) if log.signer else None}
    yield json.dumps(header) + "\n"
    for row in rows:
        line = {"type": "entry", "index": row.index, "leaf_hash": bytes(row.leaf_hash).hex(), "entry": row.entry}
        if not complete:
            line["inclusion"] = [h.hex() for h in log.inclusion_proof(row.index, size)]
        yield json.dumps(line) + "\n"


@dataclass
class ExportReport:
    ok: bool
    entries: int
    tree_size: int
    problems: list[str] = field(default_factory=list)


def verify_export(lines: Iterable[str], verifier: VerifierKey) -> ExportReport:
    """Check a jsonl export against the log's public key alone."""
    lines = iter(lines)
    try:
        header = json.loads(next(lines))
        checkpoint = verifier.open(header["note"])
    except StopIteration:
        return ExportReport(False, 0, 0, ["the export is empty"])
    except (ValueError, KeyError, TypeError, CheckpointError) as exc:
        return ExportReport(False, 0, 0, [f"the export's checkpoint is not valid: {exc}"])
    size, problems, leaves, count, last = checkpoint.tree_size, [], [], 0, -1
    complete = bool(header.get("complete"))
    for number, text in enumerate(lines, start=2):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
            index, entry = int(item["index"]), item["entry"]
            body = json.loads(entry)
        except (ValueError, KeyError, TypeError):
            problems.append(f"line {number}: not an export entry")
            continue
        count += 1
        if index <= last:
            problems.append(f"line {number}: entry {index} is out of order (after {last})")
        if complete and index != last + 1:
            problems.append(f"entry {last + 1} is missing from a complete export")
        last = index
        if body.get("index") != index:
            problems.append(f"entry {index}: its text says index {body.get('index')} (moved)")
        leaf = merkle.leaf_hash(entry.encode())
        if complete:
            leaves.append(leaf)
            continue
        try:
            proof = [bytes.fromhex(h) for h in item["inclusion"]]
            merkle.verify_inclusion(index, size, leaf, proof, checkpoint.root_hash)
        except (KeyError, ValueError) as exc:
            problems.append(f"entry {index}: {exc}")
    if complete:
        if len(leaves) != size:
            problems.append(f"a complete export must hold {size} entries; it holds {len(leaves)}")
        elif merkle.root_of(leaves) != checkpoint.root_hash:
            problems.append("the entries do not reproduce the checkpoint's root hash (altered, missing or extra)")
    return ExportReport(ok=not problems, entries=count, tree_size=size, problems=problems)
