"""classifiers.visual on real pictures (the public-domain portraits and the CC0 cat in tests/data) and the pack's
visual rules (policies.visual) on the signals they give."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifiers.visual import (
    FACE_MATCH_DISTANCE,
    PDQ_MATCH_DISTANCE,
    default_face_embedder,
    default_sexual_scorer,
    face_distances,
    pdq_distance,
    pdq_hash,
    pdq_hex_to_bits,
)
from policies import PolicyError, load_pack, pack_from_dict
from policies.visual import FaceMatch, HashMatch, VisualPolicy, VisualRules, VisualSignals

DATA = Path(__file__).resolve().parents[1] / "data"


def _rgb(name: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / name).convert("RGB"))


def _jpeg(x: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(x).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _half(x: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(x).resize((x.shape[1] // 2, x.shape[0] // 2), Image.BILINEAR))


def test_pdq_survives_resize_and_jpeg_and_tells_pictures_apart():
    astronaut, cat = _rgb("astronaut.jpg"), _rgb("chelsea.jpg")
    original, quality = pdq_hash(astronaut)
    assert len(original) == 64 and quality >= 50
    assert pdq_distance(original, pdq_hash(_jpeg(astronaut, 50))[0]) <= PDQ_MATCH_DISTANCE
    assert pdq_distance(original, pdq_hash(_half(astronaut))[0]) <= PDQ_MATCH_DISTANCE
    assert pdq_distance(original, pdq_hash(cat)[0]) > 2 * PDQ_MATCH_DISTANCE
    assert pdq_hex_to_bits(original).tobytes().hex() == original
    with pytest.raises(ValueError):
        pdq_hex_to_bits("abc")


def test_faces_match_the_same_person_and_not_another():
    embedder = default_face_embedder()
    eileen = embedder.embed(_rgb("astronaut.jpg"))
    grace = embedder.embed(_rgb("hopper.jpg"))
    assert len(eileen) == 1 and len(grace) == 1 and eileen[0].vector.shape == (128,)
    again = embedder.embed(_jpeg(_rgb("astronaut.jpg")[8:-8, 8:-8], 50))
    assert again, "the face is found after a crop and JPEG 50"
    same = float(face_distances(again[0].vector, eileen[0].vector[None, :])[0])
    other = float(face_distances(grace[0].vector, eileen[0].vector[None, :])[0])
    assert same <= FACE_MATCH_DISTANCE < other
    assert embedder.embed(_rgb("chelsea.jpg")) == []  # a cat is not a person


def test_sexual_scorer_scores_benign_photographs_low():
    scores = default_sexual_scorer().score([_rgb("astronaut.jpg"), _rgb("chelsea.jpg"), _rgb("hopper.jpg")])
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 1)).all()
    assert scores.max() < 0.2
    with pytest.raises(ValueError):
        default_sexual_scorer().score([np.zeros((4, 4), dtype=np.uint8)])


def _policy(**rules) -> VisualPolicy:
    return VisualPolicy(VisualRules(**rules), "test@1")


def test_visual_rules_decide_each_signal_with_a_reason():
    policy = _policy()
    assert policy.evaluate(VisualSignals(sexual=0.1, sexual_where="frame 0")).action == "allow"
    late = policy.evaluate(VisualSignals(sexual=0.9, sexual_where="frame 95"))
    assert late.action == "block" and "frame 95" in late.reasons[0] and late.flagged == ["sexual"]
    # The same score is judged as sexual/minors only when the prompt suggests a minor.
    mild = VisualSignals(sexual=0.35, sexual_where="frame 3", minor_score=0.5)
    assert policy.evaluate(mild).action == "block" and "sexual/minors" in policy.evaluate(mild).flagged
    assert policy.evaluate(VisualSignals(sexual=0.35, minor_score=0.05)).action == "allow"
    # A list imported as "block" blocks even where the pack would only review; the pack's floor raises "review".
    hit = HashMatch(list_name="ncmec-demo", action="review", distance=12, max_distance=31, where="reference image")
    assert policy.evaluate(VisualSignals(hash_matches=(hit,))).action == "block"
    assert _policy(hash_list_match="review").evaluate(VisualSignals(hash_matches=(hit,))).action == "review"
    # Faces: a consented character is recorded as allowed; others block, naming the rule, not the person.
    ok = FaceMatch(kind="consented", distance=0.3, max_distance=0.5, where="frame 4", character_id="char_1")
    allowed = policy.evaluate(VisualSignals(face_matches=(ok,)))
    assert allowed.action == "allow" and allowed.matched_rules[0].rule == "likeness:consented"
    no = FaceMatch(kind="not_consented", distance=0.3, max_distance=0.5, where="frame 4")
    refused = policy.evaluate(VisualSignals(face_matches=(ok, no)))
    assert refused.action == "block" and refused.flagged == ["real_person"]
    assert "likeness:not_consented" in [m.rule for m in refused.matched_rules]


def test_packs_carry_visual_rules_and_refuse_bad_ones():
    default, strict = load_pack("default"), load_pack("strict")
    assert default.visual.sexual.block == 0.8 and strict.visual.sexual.block < default.visual.sexual.block
    data = default.to_dict()
    assert pack_from_dict(data).visual == default.visual
    data["visual"] = {"sexual": {"review": 0.9, "block": 0.5}, "hash_list_match": "allow", "colour": 1}
    with pytest.raises(PolicyError) as err:
        pack_from_dict(data)
    text = "\n".join(err.value.errors)
    assert "visual.sexual" in text and "visual.hash_list_match" in text and "visual.colour" in text
