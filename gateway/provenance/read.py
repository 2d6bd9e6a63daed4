"""Read and validate the C2PA manifest of an asset and say, plainly, what it proves."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import c2pa
from cryptography import x509

from ..media.bmff import Box, whole_boxes
from ._context import c2pa_context
from .manifest import GENERATION_ASSERTION_LABEL, REFERENCE_SOFT_BINDING_KEY, SOFT_BINDING_LABEL

logger = logging.getLogger(__name__)

__all__ = [
    "active_manifest_label",
    "carries_manifest",
    "ProvenanceState",
    "ProvenanceReport",
    "read_provenance",
    "strip_manifest",
    "C2PA_BOX_UUID",
    "CODE_FORMAT_UNSUPPORTED",
    "CODE_ASSET_UNREADABLE",
    "CODE_MANIFEST_UNREADABLE",
]

ProvenanceState = Literal["trusted", "valid", "invalid", "not_present"]

# The ISO-BMFF user type of a C2PA manifest box (C2PA spec, "Embedding manifests into BMFF").
C2PA_BOX_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")

# Our own codes, for outcomes c2pa-rs reports as errors rather than validation statuses.
CODE_FORMAT_UNSUPPORTED = "hallmark.format.unsupported"  # c2pa-rs cannot read this format at all
CODE_ASSET_UNREADABLE = "hallmark.asset.unreadable"  # the asset cannot be parsed and shows no manifest
CODE_MANIFEST_UNREADABLE = "hallmark.manifest.unreadable"  # a manifest is there but cannot be parsed

_STATES: dict[str, ProvenanceState] = {"Trusted": "trusted", "Valid": "valid", "Invalid": "invalid"}


@dataclass(frozen=True)
class ProvenanceReport:
    """The outcome of reading an asset's C2PA manifest.

    ``state``: ``trusted`` (signature holds and the signer chains to a configured anchor),
    ``valid`` (signature holds, signer not trusted), ``invalid`` (something was altered or
    cannot be verified; see ``validation_codes``), ``not_present`` (no manifest).
    The other fields are read from the active manifest even when it is invalid: gate any
    decision on ``state``, never on the presence of ``generation``.
    ``validation_codes`` lists failure codes only (e.g. ``assertion.bmffHash.mismatch``,
    ``signingCredential.untrusted``), never success codes.
    """

    state: ProvenanceState
    issuer: str | None = None
    generated_at: str | None = None
    claim_generator: str | None = None
    generation: dict | None = None
    soft_bindings: list[dict] = field(default_factory=list)
    validation_codes: list[str] = field(default_factory=list)
    manifest_json: dict | None = None
    active_manifest_id: str | None = None
    signed_at: str | None = None  # the time a timestamp authority countersigned the signature; None without one
    # c2pa-rs validated an RFC 3161 time-stamp over the signature. Its time replaces "now" when the signing
    # certificate's validity is checked only if ``time_stamp_trusted`` (the TSA chains to an anchor): a trusted
    # time-stamp keeps a manifest valid after its certificate expires; an untrusted one is informational.
    time_stamped: bool = False
    time_stamp_trusted: bool = False
    actions: list[dict] = field(default_factory=list)  # the active manifest's c2pa.actions, summarised
    # What the asset was made from (the active manifest's ingredients): a remix's source is its ``parentOf``.
    ingredients: list[dict] = field(default_factory=list)

    @property
    def detected(self) -> bool:
        return self.state != "not_present"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _c2pa_boxes(data: bytes) -> list[Box]:
    """The whole top-level ``uuid`` boxes of a BMFF file that hold a C2PA manifest."""
    return [box for box in whole_boxes(data) if box.user_type(data) == C2PA_BOX_UUID]


def carries_manifest(data: bytes) -> bool:
    """Whether the file holds a C2PA manifest store (without validating it): a BMFF C2PA uuid box, or for JPEG, PNG
    and the others a JUMBF superbox labelled "c2pa"."""
    return bool(_c2pa_boxes(data)) or (b"jumb" in data and b"c2pa" in data)


def _base_label(label: str) -> str:
    return label.split("__", 1)[0]  # c2pa-rs suffixes repeated assertions: "label__1"


def _failure_codes(store: dict) -> list[str]:
    codes: list[str] = []
    results = store.get("validation_results") or {}
    for entry in (results.get("activeManifest") or {}).get("failure", []) or []:
        codes.append(entry.get("code"))
    for delta in results.get("ingredientDeltas", []) or []:
        for entry in (delta.get("validationDeltas") or {}).get("failure", []) or []:
            codes.append(entry.get("code"))
    for entry in store.get("validation_status", []) or []:
        codes.append(entry.get("code"))
    return list(dict.fromkeys(code for code in codes if code))


def _success_codes(store: dict) -> set[str]:
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    return {entry.get("code") for entry in results.get("success", []) or []}


def _name_version(info: dict) -> str | None:
    """"name version" of a C2PA generator-info map (claim generator, software agent); None without a name."""
    if not info.get("name"):
        return None
    return " ".join(str(part) for part in (info["name"], info.get("version")) if part)


def _claim_generator(manifest: dict) -> str | None:
    info = manifest.get("claim_generator_info") or []
    named = _name_version(info[0]) if info and isinstance(info[0], dict) else None
    return named or manifest.get("claim_generator")


def _action_summary(action: dict) -> dict:
    """An action as a check reports it: what was done, when, by which software, from what kind of source."""
    agent = action.get("softwareAgent")
    if isinstance(agent, dict):
        agent = _name_version(agent)
    summary = {"action": action.get("action"), "when": action.get("when"), "software_agent": agent,
               "digital_source_type": action.get("digitalSourceType")}
    return {k: v for k, v in summary.items() if v is not None}


def _ingredient_summary(ingredient: dict, store: dict) -> dict:
    """An ingredient as a check reports it: what it is, how it relates, whether its own credentials held when it was
    added (c2pa-rs validates an ingredient's manifest and records the outcome in the ingredient), and our soft
    binding when the input carried our watermark."""
    results = ingredient.get("validation_results") or {}
    failures = [entry.get("code") for entry in (results.get("activeManifest") or {}).get("failure", []) or []]
    failures += [entry.get("code") for entry in ingredient.get("validation_status", []) or []
                 if entry.get("code") and not str(entry.get("code")).endswith((".validated", ".trusted", ".match"))]
    label = ingredient.get("active_manifest")
    passed = {entry.get("code") for entry in (results.get("activeManifest") or {}).get("success", []) or []}
    broken = [code for code in failures if code != "signingCredential.untrusted"]
    if not label:
        state = "not_present"
    elif broken:
        state = "invalid"  # altered, or its signature does not hold: recorded, not hidden
    elif "signingCredential.trusted" in passed and "signingCredential.untrusted" not in failures:
        state = "trusted"
    else:
        state = "valid"  # the signature holds; whose it is was not among the anchors known at signing
    parent_manifest = (store.get("manifests") or {}).get(label) or {} if label else {}
    summary = {"title": ingredient.get("title"), "relationship": ingredient.get("relationship"),
               "format": ingredient.get("format"), "manifest_id": label, "credentials": state,
               "validation_codes": list(dict.fromkeys(code for code in failures if code)),
               "claim_generator": _claim_generator(parent_manifest) if parent_manifest else None}
    binding = ((ingredient.get("metadata") or {}).get(REFERENCE_SOFT_BINDING_KEY)
               if isinstance(ingredient.get("metadata"), dict) else None)
    if isinstance(binding, dict):
        summary["content_id"] = binding.get("content_id")
        summary["soft_binding"] = {"alg": binding.get("alg"), "value": binding.get("value")}
    return {k: v for k, v in summary.items() if v is not None}


def _report(store: dict, *, anchors_given: bool) -> ProvenanceReport:
    active_id = store.get("active_manifest")
    manifest: dict[str, Any] = (store.get("manifests") or {}).get(active_id) or {}
    codes = _failure_codes(store)
    state = _STATES.get(store.get("validation_state") or "", "invalid")
    if state == "trusted" and not anchors_given:
        state = "valid"  # trust is ours to configure; never inherit it from library defaults

    generation = None
    soft_bindings: list[dict] = []
    actions: list[dict] = []
    created_when = None
    for assertion in manifest.get("assertions", []) or []:
        label = _base_label(assertion.get("label", ""))
        data = assertion.get("data") or {}
        if label == GENERATION_ASSERTION_LABEL and generation is None:
            generation = data
        elif label == SOFT_BINDING_LABEL:
            for block in data.get("blocks", []) or []:
                soft_bindings.append(
                    {"alg": data.get("alg"), "value": block.get("value"), "scope": block.get("scope", {})}
                )
        elif label in ("c2pa.actions", "c2pa.actions.v2"):
            for action in data.get("actions", []) or []:
                if action.get("action") == "c2pa.created" and created_when is None:
                    created_when = action.get("when")
                actions.append(_action_summary(action))
    signature = manifest.get("signature_info") or {}
    # c2pa-rs reports signature_info.time only for a time-stamped signature (the TSA's genTime); the time counts
    # only once the token's digest matched the signature (timeStamp.validated).
    passed = _success_codes(store)
    time_stamped = "timeStamp.validated" in passed and bool(signature.get("time"))
    signed_at = signature.get("time") if time_stamped else None
    generated_at = (generation or {}).get("created_at") or created_when or signed_at
    return ProvenanceReport(
        state=state,
        issuer=signature.get("issuer") or signature.get("common_name"),
        generated_at=generated_at,
        claim_generator=_claim_generator(manifest),
        generation=generation,
        soft_bindings=soft_bindings,
        validation_codes=codes,
        manifest_json=store,
        active_manifest_id=active_id,
        signed_at=signed_at,
        time_stamped=time_stamped,
        time_stamp_trusted=time_stamped and anchors_given and "timeStamp.trusted" in passed,
        actions=actions,
        ingredients=[_ingredient_summary(i, store) for i in manifest.get("ingredients", []) or []
                     if isinstance(i, dict)],
    )


def _check_anchors(pem: str) -> None:
    """Refuse a malformed anchor bundle loudly: c2pa-rs would silently skip parts of it."""
    try:
        anchors = x509.load_pem_x509_certificates(pem.encode("ascii") if isinstance(pem, str) else pem)
    except ValueError as exc:
        raise ValueError(f"trust_anchors_pem is not a PEM bundle of certificates: {exc}") from exc
    if not anchors:
        raise ValueError("trust_anchors_pem holds no certificate")


def read_provenance(data: bytes, mime: str, *, trust_anchors_pem: str | None,
                    manifest_store: bytes | None = None) -> ProvenanceReport:
    """Read and validate the C2PA manifest in ``data`` (offline: nothing is fetched).

    With ``manifest_store`` (a manifest store kept apart from the asset, e.g. the registry's copy
    of a stripped file's original), that store is validated against ``data`` instead of any
    embedded one: C2PA's durable content credentials.

    ``trust_anchors_pem`` are the PEM roots whose chains count as ``trusted``; pass None to
    trust nobody (a correctly signed file then reads as ``valid``). Unsigned, unsupported
    or corrupt inputs never raise: they read as ``not_present`` or ``invalid`` with a code.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if trust_anchors_pem:
        _check_anchors(trust_anchors_pem)
    if not data:
        return ProvenanceReport(state="not_present", validation_codes=[CODE_ASSET_UNREADABLE])
    if mime not in c2pa.Reader.get_supported_mime_types():
        return ProvenanceReport(state="not_present", validation_codes=[CODE_FORMAT_UNSUPPORTED])
    context = c2pa_context(user_anchors_pem=trust_anchors_pem or None)
    try:
        with context:
            if manifest_store:
                reader = c2pa.Reader(mime, io.BytesIO(data), manifest_data=manifest_store, context=context)
            else:
                reader = c2pa.Reader.try_create(mime, io.BytesIO(data), context=context)
            if reader is None:
                return ProvenanceReport(state="not_present")
            with reader:
                store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        if carries_manifest(data):
            logger.info("C2PA manifest present but unreadable: %s", exc)
            return ProvenanceReport(state="invalid", validation_codes=[CODE_MANIFEST_UNREADABLE])
        logger.info("Asset unreadable for C2PA, no manifest seen: %s", exc)
        return ProvenanceReport(state="not_present", validation_codes=[CODE_ASSET_UNREADABLE])
    return _report(store, anchors_given=bool(trust_anchors_pem))


def strip_manifest(data: bytes) -> bytes:
    """Blank every top-level C2PA ``uuid`` box of an MP4, leaving a file with no manifest.

    Each box is turned into a ``free`` box of the same size with zeroed content rather
    than cut out, so the chunk offsets in ``moov`` stay correct and the video still plays.

    Raises:
        ValueError: ``data`` is not an ISO-BMFF file (MP4/MOV).
    """
    if len(data) < 8 or bytes(data[4:8]) != b"ftyp":
        raise ValueError("strip_manifest works on ISO-BMFF (MP4/MOV) files that start with an ftyp box")
    out = bytearray(data)
    for box in _c2pa_boxes(data):
        out[box.offset + 4 : box.offset + 8] = b"free"
        out[box.offset + box.header_size : box.end] = bytes(box.size - box.header_size)
    return bytes(out)


def _jumbf_label(description: bytes) -> str | None:
    """The label of a JUMBF description box's payload: a 16-byte type, a toggles byte (0x02: a label follows),
    then the label, NUL-terminated."""
    if len(description) < 17 or not description[16] & 0x02:
        return None
    end = description.find(b"\x00", 17)
    return description[17:end if end >= 0 else None].decode("utf-8", "replace")


def active_manifest_label(store: bytes) -> str | None:
    """The id of the active manifest of a manifest store (``application/c2pa``), read from its JUMBF boxes without
    validating anything: the label of the store's last manifest box, which C2PA makes the active one."""
    for outer in whole_boxes(store):
        if outer.type != "jumb":
            continue
        label = None
        for child in whole_boxes(store[outer.offset + outer.header_size:outer.end]):
            start = outer.offset + outer.header_size + child.offset + child.header_size
            payload = store[start:start - child.header_size + child.size]
            if child.type == "jumb":
                inner = next(iter(whole_boxes(payload)), None)
                if inner is not None and inner.type == "jumd":
                    label = _jumbf_label(payload[inner.header_size:inner.size]) or label
        return label
    return None
