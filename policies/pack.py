"""Policy packs: versioned YAML data (per-category thresholds, allow/deny phrases, combinations, labels), validated
strictly at load time so that a broken pack is refused with a message that says what is wrong and where."""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml

from .visual import DEFAULT_VISUAL_RULES, VisualRules, visual_rules_from_dict

__all__ = [
    "CATEGORIES", "LABELS", "SHIPPED_PACKS", "PACKS_DIR", "PolicyError", "CategoryThreshold", "Combination",
    "PolicyPack", "load_pack", "pack_from_dict",
]

# The taxonomy a pack may set thresholds for. It mirrors `classifiers.CATEGORIES` (the packages do not import each
# other; a test checks the two agree).
CATEGORIES: tuple[str, ...] = (
    "sexual", "sexual/minors", "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "violence", "violence/graphic",
    "real_person", "ip", "deception",
)
# Disclosure labels a pack can ask the pipeline to apply: C2PA manifest, invisible watermark, implicit AIGC metadata
# (GB 45438 implicit label), visible "AI-generated" label on the frames (GB 45438 explicit label).
LABELS: tuple[str, ...] = ("c2pa", "watermark", "aigc_metadata", "visible_label", "visible_label_zh")

PACKS_DIR = Path(__file__).resolve().parent / "packs"
SHIPPED_PACKS: tuple[str, ...] = ("default", "strict")

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]*")
_TOP_LEVEL_REQUIRED = ("id", "version", "thresholds", "labels")
_TOP_LEVEL_OPTIONAL = ("description", "allow_list", "deny_list", "combinations", "visual")


class PolicyError(ValueError):
    """A policy pack could not be loaded: ``errors`` lists every problem found, each prefixed with where it is."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors: list[str] = errors if errors is not None else [message]


@dataclass(frozen=True)
class CategoryThreshold:
    """Score at or above ``block`` blocks; at or above ``review`` holds for review. ``None`` = never, by score."""

    review: float | None
    block: float | None


@dataclass(frozen=True)
class Combination:
    """Fires when every category in ``categories`` scores at least ``min_score`` (e.g. real_person + sexual)."""

    name: str
    categories: tuple[str, ...]
    min_score: float
    action: Literal["review", "block"]


@dataclass(frozen=True)
class PolicyPack:
    id: str
    version: str
    thresholds: Mapping[str, CategoryThreshold]
    allow_list: tuple[str, ...]
    deny_list: tuple[str, ...]
    labels: tuple[str, ...]
    combinations: tuple[Combination, ...] = ()
    description: str = ""
    visual: VisualRules = DEFAULT_VISUAL_RULES  # pictures: reference images and generated frames
    source: str | None = field(default=None, compare=False)
    digest: str | None = field(default=None, compare=False)  # SHA-256 of the YAML text (or canonical JSON of a dict)

    @property
    def ref(self) -> str:
        """``id@version``, the string recorded with every decision."""
        return f"{self.id}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """The pack as plain data, in the YAML's shape (``pack_from_dict(pack.to_dict())`` gives it back)."""
        return {
            "id": self.id,
            "version": self.version,
            "description": self.description,
            "thresholds": {c: {"review": t.review, "block": t.block} for c, t in self.thresholds.items()},
            "allow_list": list(self.allow_list),
            "deny_list": list(self.deny_list),
            "combinations": [
                {"name": c.name, "categories": list(c.categories), "min_score": c.min_score, "action": c.action}
                for c in self.combinations
            ],
            "labels": list(self.labels),
            "visual": self.visual.to_dict(),
        }


def load_pack(path_or_name: str | Path) -> PolicyPack:
    """Load and validate a pack: ``"default"`` / ``"strict"`` name the shipped packs, anything else is a YAML path.

    Raises :class:`PolicyError` (listing every problem) if the file is missing, not YAML, or not a valid pack.
    """
    if isinstance(path_or_name, str) and path_or_name in SHIPPED_PACKS:
        path = PACKS_DIR / f"{path_or_name}.yaml"
    else:
        path = Path(path_or_name)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        shipped = ", ".join(repr(n) for n in SHIPPED_PACKS)
        raise PolicyError(f"{where}: policy pack file not found (shipped packs are named {shipped})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{where}: cannot read policy pack: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(f"{where}: not valid YAML{at}: {problem}") from exc
    return pack_from_dict(data, source=where, digest=hashlib.sha256(text.encode("utf-8")).hexdigest())


def pack_from_dict(data: Any, *, source: str = "<dict>", digest: str | None = None) -> PolicyPack:
    """Validate plain data (as parsed from YAML) into a :class:`PolicyPack`; raises :class:`PolicyError`.
    ``digest`` identifies the exact text the data came from; by default, the SHA-256 of its canonical JSON."""
    errors: list[str] = []

    def err(where: str, message: str) -> None:
        errors.append(f"{source}: {where}: {message}" if where else f"{source}: {message}")

    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: a policy pack must be a mapping of fields, got {type(data).__name__}")
    for key in data:
        if key not in _TOP_LEVEL_REQUIRED + _TOP_LEVEL_OPTIONAL:
            err(str(key), f"unknown field (allowed: {', '.join(_TOP_LEVEL_REQUIRED + _TOP_LEVEL_OPTIONAL)})")
    for key in _TOP_LEVEL_REQUIRED:
        if key not in data:
            err(key, "required field is missing")

    pack_id = _string(data.get("id"), "id", err, pattern=_ID, hint="letters, digits, '.', '_' or '-'")
    version = _string(data.get("version"), "version", err, pattern=_VERSION,
                      hint='e.g. "1.0.0"; quote it in YAML so it stays a string')
    description = data.get("description", "")
    if not isinstance(description, str):
        err("description", f"must be a string, got {type(description).__name__}")
        description = ""
    thresholds = _thresholds(data.get("thresholds"), err) if "thresholds" in data else {}
    allow_list = _phrases(data.get("allow_list", []), "allow_list", err)
    deny_list = _phrases(data.get("deny_list", []), "deny_list", err)
    labels = _labels(data.get("labels"), err) if "labels" in data else ()
    combinations = _combinations(data.get("combinations", []), err)
    visual = visual_rules_from_dict(data.get("visual"), err)

    if errors:
        summary = f"invalid policy pack {source} ({len(errors)} problem{'s' if len(errors) > 1 else ''}):\n  " + \
            "\n  ".join(errors)
        raise PolicyError(summary, errors)
    return PolicyPack(
        id=pack_id, version=version, thresholds=MappingProxyType(thresholds), allow_list=allow_list,
        deny_list=deny_list, labels=labels, combinations=combinations, description=description, visual=visual,
        source=source,
        digest=digest or hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest(),
    )


def _string(value: Any, where: str, err, *, pattern: re.Pattern[str], hint: str) -> str:
    if value is None:
        return ""  # "missing" is reported by the caller
    if not isinstance(value, str):
        err(where, f"must be a string ({hint}), got {type(value).__name__} {value!r}")
        return ""
    if not pattern.fullmatch(value):
        err(where, f"{value!r} is not allowed ({hint})")
    return value


def _score(value: Any, where: str, err, *, nullable: bool) -> float | None:
    if value is None:
        if not nullable:
            err(where, "must be a number in [0, 1], got null")
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        err(where, f"must be a number in [0, 1]{' or null' if nullable else ''}, got {type(value).__name__} "
                   f"{value!r}")
        return None
    value = float(value)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        err(where, f"must be within [0, 1], got {value}")
        return None
    return value


def _thresholds(value: Any, err) -> dict[str, CategoryThreshold]:
    if not isinstance(value, Mapping):
        err("thresholds", f"must be a mapping of category -> {{review, block}}, got {type(value).__name__}")
        return {}
    out: dict[str, CategoryThreshold] = {}
    for cat, spec in value.items():
        where = f"thresholds.{cat}"
        if cat not in CATEGORIES:
            err(where, f"unknown category {cat!r} (known: {', '.join(CATEGORIES)})")
            continue
        if not isinstance(spec, Mapping):
            err(where, f"must be a mapping with 'review' and 'block', got {type(spec).__name__}")
            continue
        for key in spec:
            if key not in ("review", "block"):
                err(f"{where}.{key}", "unknown field (allowed: review, block)")
        missing = [k for k in ("review", "block") if k not in spec]
        if missing:
            err(where, f"missing {' and '.join(missing)} (use null for 'never, by score')")
            continue
        review = _score(spec["review"], f"{where}.review", err, nullable=True)
        block = _score(spec["block"], f"{where}.block", err, nullable=True)
        if review is not None and block is not None and review > block:
            err(where, f"review threshold {review} is above block threshold {block} (review must be ≤ block)")
            continue
        out[cat] = CategoryThreshold(review=review, block=block)
    missing_cats = [c for c in CATEGORIES if c not in value]
    if missing_cats:
        err("thresholds", f"missing categories: {', '.join(missing_cats)} (every category needs review and block; "
                          "use null for 'never')")
    # Keep the canonical order whatever order the YAML used.
    return {c: out[c] for c in CATEGORIES if c in out}


def _phrases(value: Any, where: str, err) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        err(where, f"must be a list of phrases, got {type(value).__name__}")
        return ()
    seen: set[str] = set()
    out: list[str] = []
    for i, phrase in enumerate(value):
        if not isinstance(phrase, str) or not phrase.strip():
            err(f"{where}[{i}]", f"must be a non-empty string, got {phrase!r}")
            continue
        key = " ".join(phrase.casefold().split())
        if key in seen:
            err(f"{where}[{i}]", f"duplicate phrase {phrase!r}")
            continue
        seen.add(key)
        out.append(phrase)
    return tuple(out)


def _labels(value: Any, err) -> tuple[str, ...]:
    if not isinstance(value, list):
        err("labels", f"must be a list (of {', '.join(LABELS)}; may be empty), got {type(value).__name__}")
        return ()
    out: list[str] = []
    for i, label in enumerate(value):
        if label not in LABELS:
            err(f"labels[{i}]", f"unknown label {label!r} (known: {', '.join(LABELS)})")
        elif label in out:
            err(f"labels[{i}]", f"duplicate label {label!r}")
        else:
            out.append(label)
    return tuple(out)


def _combinations(value: Any, err) -> tuple[Combination, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        err("combinations", f"must be a list, got {type(value).__name__}")
        return ()
    out: list[Combination] = []
    names: set[str] = set()
    for i, spec in enumerate(value):
        where = f"combinations[{i}]"
        if not isinstance(spec, Mapping):
            err(where, f"must be a mapping with name, categories, min_score, action; got {type(spec).__name__}")
            continue
        bad = [k for k in spec if k not in ("name", "categories", "min_score", "action")]
        for key in bad:
            err(f"{where}.{key}", "unknown field (allowed: name, categories, min_score, action)")
        missing = [k for k in ("name", "categories", "min_score", "action") if k not in spec]
        if missing:
            err(where, f"missing {', '.join(missing)}")
            continue
        name = spec["name"]
        if not isinstance(name, str) or not _ID.fullmatch(name):
            err(f"{where}.name", f"must be an identifier (letters, digits, '.', '_' or '-'), got {name!r}")
            continue
        if name in names:
            err(f"{where}.name", f"duplicate combination name {name!r}")
        names.add(name)
        cats = spec["categories"]
        if not isinstance(cats, list) or len(cats) < 2 or len(set(map(str, cats))) != len(cats):
            err(f"{where}.categories", f"must list at least two different categories, got {cats!r}")
            continue
        unknown = [c for c in cats if c not in CATEGORIES]
        if unknown:
            err(f"{where}.categories", f"unknown categor{'ies' if len(unknown) > 1 else 'y'} {unknown}")
            continue
        min_score = _score(spec["min_score"], f"{where}.min_score", err, nullable=False)
        action = spec["action"]
        if action not in ("review", "block"):
            err(f"{where}.action", f"must be 'review' or 'block', got {action!r}")
            continue
        if min_score is None:
            continue
        out.append(Combination(name=name, categories=tuple(cats), min_score=min_score, action=action))
    return tuple(out)
