"""gateway.verification.assessment: the overall verdict over the C2PA, watermark and registry layers."""

from __future__ import annotations

import pytest

from gateway.provenance import ProvenanceReport
from gateway.registry.records import RegistryMatch
from gateway.verification.assessment import assess, fingerprint_confidence
from gateway.verification.layers import Verdict, WatermarkResult

ID_A, ID_B = "00000000000000aa", "00000000000000bb"
NO_MARK = WatermarkResult(detected=False, content_id=None, confidence=0.0)


def _verdict(c2pa: ProvenanceReport, wm: WatermarkResult = NO_MARK, registry: RegistryMatch | None = None,
             recovered: ProvenanceReport | None = None) -> Verdict:
    return Verdict(mime="video/mp4", sha256="0" * 64, c2pa=c2pa, watermark=wm, registry=registry,
                   recovered=recovered)


def _match(content_id: str = ID_A, method: str = "watermark", **kw) -> RegistryMatch:
    return RegistryMatch(content_id=content_id, video_id=f"video_{content_id}", model="m",
                         created_at="2026-12-01T00:00:00Z", method=method, **kw)


def _signed(state: str, content_id: str = ID_A) -> ProvenanceReport:
    return ProvenanceReport(state=state, generation={"content_id": content_id, "video_id": f"video_{content_id}"},
                            active_manifest_id="urn:c2pa:x")


def test_layers_that_agree_combine():
    wm = WatermarkResult(detected=True, content_id=ID_A, confidence=0.9)
    a = assess(_verdict(_signed("trusted"), wm, _match(method="manifest")))
    assert a.origin == "this_gateway" and a.content_id == ID_A and a.video_id == f"video_{ID_A}"
    assert a.evidence == {"c2pa": 0.999, "watermark": 0.9}
    assert a.confidence == pytest.approx(1 - 0.001 * 0.1)
    assert a.altered is False and a.conflicts == {}


def test_a_layer_naming_another_record_is_a_conflict_and_does_not_count():
    wm = WatermarkResult(detected=True, content_id=ID_B, confidence=0.95)
    a = assess(_verdict(_signed("trusted"), wm, _match(method="manifest")))
    assert a.content_id == ID_A and a.evidence == {"c2pa": 0.999}
    assert a.conflicts == {"watermark": ID_B} and a.confidence == pytest.approx(0.999)


def test_untrusted_signer_counts_only_for_a_manifest_the_registry_holds():
    # valid (intact, untrusted signer) and in the registry: the manifest is ours
    a = assess(_verdict(_signed("valid"), registry=_match(method="manifest")))
    assert a.evidence == {"c2pa": 0.99}
    # valid but unknown here: anyone can sign a claim with their own certificate
    a = assess(_verdict(_signed("valid")))
    assert a.origin == "not_recognised" and a.confidence == 0.0 and a.altered is False


def test_invalid_credentials_vouch_for_nothing_and_mean_altered():
    wm = WatermarkResult(detected=True, content_id=ID_A, confidence=0.8)
    a = assess(_verdict(_signed("invalid"), wm, _match()))
    assert a.origin == "this_gateway" and a.evidence == {"watermark": 0.8} and a.altered is True


def test_stripped_file_altered_follows_the_recovered_manifest():
    absent = ProvenanceReport(state="not_present")
    wm = WatermarkResult(detected=True, content_id=ID_A, confidence=0.7)
    assert assess(_verdict(absent, wm, _match(), recovered=_signed("trusted"))).altered is False
    assert assess(_verdict(absent, wm, _match(), recovered=_signed("invalid"))).altered is True
    assert assess(_verdict(absent, wm, _match())).altered is None  # nothing to compare against


def test_fingerprint_confidence_is_calibrated_to_the_limit():
    assert fingerprint_confidence(0.0, 0.2) == 1.0
    assert fingerprint_confidence(0.2, 0.2) == 0.5
    assert fingerprint_confidence(0.1, 0.2) == pytest.approx(0.75)
    m = _match(method="fingerprint", score=0.05, score_limit=0.2, distance=3)
    a = assess(_verdict(ProvenanceReport(state="not_present"), registry=m))
    assert a.evidence == {"fingerprint": pytest.approx(0.875)} and a.confidence == pytest.approx(0.875)
    legacy = _match(method="fingerprint", distance=4)  # a pHash-only record: no calibrated score
    assert assess(_verdict(ProvenanceReport(state="not_present"), registry=legacy)).confidence == 0.5


def test_trusted_credentials_of_a_record_not_held_here():
    a = assess(_verdict(_signed("trusted", ID_B)))
    assert a.origin == "this_gateway" and a.content_id == ID_B and a.video_id == f"video_{ID_B}"
    assert a.evidence == {"c2pa": 0.999}


def test_nothing_recognised():
    a = assess(_verdict(ProvenanceReport(state="not_present")))
    assert a.to_dict() == {"origin": "not_recognised", "content_id": None, "video_id": None, "confidence": 0.0,
                           "altered": None, "evidence": {}, "conflicts": {}}
