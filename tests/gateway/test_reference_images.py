"""Reference images (input_reference): faces → real_person for the policy, an existing C2PA manifest or a Hallmark
watermark → an ``inputTo`` ingredient of the new manifest, bad images → 4xx. Real images, real HTTP, real c2pa-rs."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from classifiers.faces import FaceDetector, default_detector
from gateway.provenance import (
    GenerationClaim,
    ReferenceIngredient,
    build_manifest,
    content_id_binding_value,
    ensure_dev_ca,
    read_provenance,
    sign_asset,
)
from gateway.provenance.manifest import REFERENCE_INGREDIENT_ID, REFERENCE_SOFT_BINDING_KEY

DATA = Path(__file__).resolve().parents[1] / "data"
CREATED_BY_CAMERA = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


def _rgb(name: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / name).convert("RGB"))


def _encode(frame: np.ndarray, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(frame).save(out, format=fmt)
    return out.getvalue()


def _first_frame(mp4: bytes) -> np.ndarray:
    with av.open(io.BytesIO(mp4)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def _active(report) -> dict:
    store = report.manifest_json
    return store["manifests"][store["active_manifest"]]


def _decision_for(gateway, video_id: str, tenant: str = "tenant-a") -> dict:
    from gateway.audit import AuditLog
    from gateway.store.db import Database

    db = Database(gateway.settings.resolved_database_url)
    try:
        log = AuditLog(db)
        queued = [e for e in log.entries(event="video.queued", tenant=tenant) if e.object_id == video_id]
        assert queued, f"no video.queued entry for {video_id}"
        decision_id = queued[-1].data["decision_id"]
        decisions = [e for e in log.entries(event="policy.decision", tenant=tenant) if e.object_id == decision_id]
        assert decisions
        generated = [e for e in log.entries(event="video.generated", tenant=tenant) if e.object_id == video_id]
        return {"decision": decisions[-1].data, "generated": generated[-1].data if generated else None}
    finally:
        db.dispose()


# --- classifiers.faces on real photographs ---------------------------------------------------------------


def test_detector_finds_the_astronauts_face_and_scores_it_as_a_person():
    result = default_detector().detect(_rgb("astronaut.jpg"))
    assert result.count == 1 and result.score == 1.0
    box = result.boxes[0]
    # The face sits in the upper middle-left of the 256×256 portrait and is about a fifth of its side.
    assert 60 <= box.x <= 110 and 10 <= box.y <= 50 and 40 <= box.width <= 70, box
    assert result.to_dict()["faces"] == 1


def test_detector_finds_no_person_in_a_cat_or_in_synthetic_frames():
    detector = default_detector()
    assert detector.detect(_rgb("chelsea.jpg")).count == 0  # an animal's face is not a person's
    frame = np.full((128, 128, 3), 20, np.uint8)
    frame[40:90, 30:80] = (220, 40, 40)  # the kind of frame the built-in model draws
    assert detector.detect(frame).score == 0.0
    assert detector.detect(np.zeros((8, 8, 3), np.uint8)).count == 0  # too small to hold a face


def test_detector_reports_boxes_in_input_pixels_and_smaller_faces_score_less():
    detector = default_detector()
    portrait = _rgb("astronaut.jpg")
    big = np.asarray(Image.fromarray(portrait).resize((1024, 1024), Image.Resampling.BICUBIC))
    found = detector.detect(big[None])  # T×H×W×3 is accepted; searched downscaled to 640, reported at 1024
    at_256 = detector.detect(portrait).boxes[0]
    assert found.count == 1, found
    box = found.boxes[0]
    assert all(abs(got - 4 * want) <= 24 for got, want in ((box.x, at_256.x), (box.y, at_256.y),
                                                          (box.width, at_256.width))), (box, at_256)
    # The same portrait small in a large empty canvas: a face of ~3.5% of the side is a weaker signal.
    canvas = np.full((1024, 1024, 3), 128, np.uint8)
    canvas[100:356, 100:356] = portrait
    small = detector.detect(canvas)
    assert small.count == 1 and abs(small.boxes[0].x - (100 + at_256.x)) <= 12, small
    assert 0.3 < small.score < 0.7, small  # a face ~5% of the side: below the 10% that scores 1.0
    with pytest.raises(ValueError):
        detector.detect(np.zeros((32, 32), np.uint8))


def test_detector_refuses_a_missing_cascade_clearly(tmp_path):
    from classifiers.faces import FaceDetectorUnavailable

    with pytest.raises(FaceDetectorUnavailable, match="opencv-python-headless<5"):
        FaceDetector(tmp_path / "missing.xml")


# --- the ingredient in the manifest, at the provenance layer ------------------------------------------------


def test_ingredient_definition_is_input_to_with_soft_binding_and_no_file_name():
    ingredient = ReferenceIngredient(data=b"\x89PNG", mime="image/png", soft_binding=("alg", "AAAAAAAAAAE="),
                                     content_id="0000000000000001", registry_manifest_id="urn:c2pa:x")
    definition = ingredient.definition()
    assert definition["relationship"] == "inputTo" and definition["title"] == "input_reference"
    assert definition["metadata"][REFERENCE_SOFT_BINDING_KEY] == {
        "alg": "alg", "value": "AAAAAAAAAAE=", "content_id": "0000000000000001", "manifest_id": "urn:c2pa:x"}
    assert "metadata" not in ReferenceIngredient(data=b"x", mime="image/jpeg").definition()
    with pytest.raises(ValueError):
        ReferenceIngredient(data=b"x", mime="video/mp4")


# --- end to end through the HTTP gateway ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def video_256(gateway) -> tuple[dict, bytes]:
    """Video A at 256×256: one frame of it carries a readable watermark (one 128×128 frame is too small to)."""
    with gateway.client() as http:
        created = http.post("/v1/videos", files={"prompt": (None, "a red circle moving right on a black background"),
                                                 "size": (None, "256x256"), "seconds": (None, "1"),
                                                 "seed": (None, "5")})
        assert created.status_code == 200, created.text
        video = gateway.wait_done(created.json()["id"])
        assert video["status"] == "completed", video
        return video, http.get(f"/v1/videos/{video['id']}/content").content


def test_a_face_in_the_reference_sends_the_request_to_review_and_is_audited(gateway):
    photo = (DATA / "astronaut.jpg").read_bytes()
    with gateway.client() as http:
        held = http.post("/v1/videos", files={"prompt": (None, "a person waving at the camera"),
                                              "input_reference": ("me.jpg", photo, "image/jpeg")})
    assert held.status_code == 200, held.text
    assert held.json()["review"] == "pending"  # default pack: real_person ≥ 0.5 → review
    audit = _decision_for(gateway, held.json()["id"])["decision"]
    assert audit["action"] == "review" and "real_person" in audit["flagged"]
    assert audit["scores"]["real_person"] == 1.0
    assert audit["reference_image"]["faces"] == 1 and audit["reference_image"]["c2pa"] == "not_present"
    assert audit["reference_image"]["ingredient"] is False
    with gateway.client(gateway.key_admin) as admin:
        assert admin.post(f"/v1/reviews/{held.json()['id']}/reject", json={"reason": "test"}).status_code == 200


def test_a_watermarked_frame_of_our_video_becomes_an_ingredient_with_our_soft_binding(gateway, video_256):
    import watermark

    video_a, mp4_a = video_256
    manifest_a = read_provenance(mp4_a, "video/mp4", trust_anchors_pem=None).active_manifest_id
    frame_png = _encode(_first_frame(mp4_a))
    with gateway.client() as http:
        created = http.post("/v1/videos", files={"prompt": (None, "the red circle keeps moving"), "seconds": (None, "1"),
                                                 "input_reference": ("frame.png", frame_png, "image/png")})
        assert created.status_code == 200, created.text
        assert created.json()["review"] is None
        video_b = gateway.wait_done(created.json()["id"])
        assert video_b["status"] == "completed", video_b
        mp4_b = http.get(f"/v1/videos/{video_b['id']}/content").content
    trust = (gateway.settings.keys_dir / "dev-root-ca.pem").read_text()
    report = read_provenance(mp4_b, "video/mp4", trust_anchors_pem=trust)
    assert report.state == "trusted", report.validation_codes
    manifest = _active(report)
    [ingredient] = manifest["ingredients"]
    assert ingredient["relationship"] == "inputTo" and ingredient["format"] == "image/png"
    assert "active_manifest" not in ingredient  # a plain PNG frame carries no manifest of its own
    binding = ingredient["metadata"][REFERENCE_SOFT_BINDING_KEY]
    assert binding["alg"] == watermark.ALGORITHM
    assert binding["value"] == content_id_binding_value(int(video_a["content_id"], 16))
    assert binding["content_id"] == video_a["content_id"] and binding["manifest_id"] == manifest_a
    created_action = [a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")][0]["data"]["actions"][0]
    assert created_action["action"] == "c2pa.created" and created_action["parameters"]["ingredients"]
    audit = _decision_for(gateway, video_b["id"])
    assert audit["decision"]["reference_image"]["faces"] == 0
    assert audit["generated"]["reference_ingredient"]["watermark_content_id"] == video_a["content_id"]


def test_a_c2pa_signed_reference_brings_its_manifest_as_the_ingredients_active_manifest(gateway, video_256,
                                                                                        tmp_path):
    _, mp4_a = video_256
    camera = ensure_dev_ca(tmp_path / "camera-keys", organization="Example Camera Maker")
    reference_definition = {
        "claim_generator_info": [{"name": "Example Camera", "version": "1.0"}], "title": "photo.jpg",
        "assertions": [{"label": "c2pa.actions",
                        "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": CREATED_BY_CAMERA}]}}],
    }
    signed_jpeg = sign_asset(_encode(_first_frame(mp4_a), "JPEG"), "image/jpeg", reference_definition, camera)
    reference_id = read_provenance(signed_jpeg, "image/jpeg", trust_anchors_pem=None).active_manifest_id
    assert reference_id
    with gateway.client() as http:
        created = http.post("/v1/videos", files={"prompt": (None, "a red circle"), "seconds": (None, "1"),
                                                 "input_reference": ("photo.jpg", signed_jpeg, "image/jpeg")})
        assert created.status_code == 200, created.text
        video_b = gateway.wait_done(created.json()["id"])
        assert video_b["status"] == "completed", video_b
        mp4_b = http.get(f"/v1/videos/{video_b['id']}/content").content
    anchors = (gateway.settings.keys_dir / "dev-root-ca.pem").read_text() + camera.root_pem.decode()
    report = read_provenance(mp4_b, "video/mp4", trust_anchors_pem=anchors)
    assert report.state == "trusted", report.validation_codes
    store = report.manifest_json
    assert reference_id in store["manifests"]  # the reference's own manifest travels inside the video's store
    [ingredient] = _active(report)["ingredients"]
    assert ingredient["relationship"] == "inputTo" and ingredient["format"] == "image/jpeg"
    assert ingredient["active_manifest"] == reference_id
    assert store["manifests"][reference_id]["claim_generator_info"][0]["name"] == "Example Camera"
    deltas = store["validation_results"].get("ingredientDeltas") or []
    assert deltas and not deltas[0]["validationDeltas"]["failure"], deltas
    audit = _decision_for(gateway, video_b["id"])
    assert audit["decision"]["reference_image"]["c2pa"] == "valid"  # signed, but not under the gateway's anchors
    assert audit["decision"]["reference_image"]["c2pa_manifest_id"] == reference_id
    assert audit["decision"]["reference_image"]["ingredient"] is True
    assert audit["generated"]["reference_ingredient"]["c2pa_manifest"] is True


def test_a_reference_with_neither_manifest_nor_watermark_adds_no_ingredient(gateway):
    frame = np.full((128, 128, 3), 40, np.uint8)
    frame[30:90, 30:90] = (40, 200, 60)
    with gateway.client() as http:
        created = http.post("/v1/videos", files={"prompt": (None, "a green square"), "seconds": (None, "1"),
                                                 "input_reference": ("g.png", _encode(frame), "image/png")})
        assert created.status_code == 200, created.text
        video = gateway.wait_done(created.json()["id"])
        assert video["status"] == "completed", video
        mp4 = http.get(f"/v1/videos/{video['id']}/content").content
    report = read_provenance(mp4, "video/mp4", trust_anchors_pem=None)
    assert not _active(report).get("ingredients")
    assert _decision_for(gateway, video["id"])["generated"]["reference_ingredient"] is None


@pytest.mark.parametrize("case", ["oversized_bytes", "oversized_pixels", "a_video", "truncated_jpeg"])
def test_bad_reference_images_are_clear_4xx(gateway, case, completed_video):
    if case == "oversized_bytes":
        payload, mime, status, code = b"\x89PNG\r\n\x1a\n" + b"\0" * (gateway.max_upload + 10), "image/png", 413, None
    elif case == "oversized_pixels":  # a few KB that would decode to 72 million pixels
        out = io.BytesIO()
        Image.new("1", (9000, 8000)).save(out, format="PNG")
        payload, mime, status, code = out.getvalue(), "image/png", 422, None
        assert len(payload) < gateway.max_upload
    elif case == "a_video":
        payload, mime, status, code = completed_video[1], "video/mp4", 415, None
    else:
        payload, mime, status, code = _encode(np.zeros((64, 64, 3), np.uint8), "JPEG")[:200], "image/jpeg", 422, None
    with gateway.client() as http:
        response = http.post("/v1/videos", files={"prompt": (None, "a cat"),
                                                  "input_reference": ("r", payload, mime)})
    assert response.status_code == status, response.text
    error = _error(response)
    assert error["param"] == "input_reference", error
    if case == "oversized_pixels":
        assert "pixels" in error["message"]


def test_the_strict_pack_blocks_a_face_reference_that_the_prompt_alone_would_pass(tmp_path):
    from gateway.bootstrap import Runtime
    from gateway.core.errors import ModerationBlocked
    from gateway.core.settings import Settings

    rt = Runtime(Settings(data_dir=tmp_path, api_keys="hm-k:tenant-s", tenant_policies="tenant-s:strict"))
    try:
        prompt = "a sunny beach at noon, gentle waves"
        assert rt.moderation.moderate(prompt=prompt, tenant="tenant-s", actor="test").action == "allow"
        photo = rt.moderation.inspect_reference((DATA / "astronaut.jpg").read_bytes())
        assert photo.faces.count == 1 and photo.original is None
        with pytest.raises(ModerationBlocked) as blocked:  # strict: real_person ≥ 0.8 → block
            rt.moderation.moderate(prompt=prompt, tenant="tenant-s", actor="test", reference=photo, hold_review=True)
        assert "real_person" in blocked.value.extra["categories"] and blocked.value.extra["action"] == "block"
    finally:
        rt.close()


def test_a_reference_whose_manifest_is_garbled_still_generates_and_is_recorded_without_it(gateway, tmp_path):
    camera = ensure_dev_ca(tmp_path / "camera-keys", organization="Example Camera Maker")
    definition = {"claim_generator_info": [{"name": "Example Camera", "version": "1.0"}], "title": "photo.jpg",
                  "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                      {"action": "c2pa.created", "digitalSourceType": CREATED_BY_CAMERA}]}}]}
    image = (np.random.default_rng(4).random((128, 128, 3)) * 255).astype(np.uint8)
    signed = bytearray(sign_asset(_encode(image, "JPEG"), "image/jpeg", definition, camera))
    at = signed.find(b"c2pa.signature")
    signed[at + 200:at + 260] = bytes(60)  # the manifest is there but cannot be parsed
    with gateway.client() as http:
        created = http.post("/v1/videos", files={"prompt": (None, "noise"), "seconds": (None, "1"),
                                                 "input_reference": ("p.jpg", bytes(signed), "image/jpeg")})
        assert created.status_code == 200, created.text
        video = gateway.wait_done(created.json()["id"])
        assert video["status"] == "completed", video
        mp4 = http.get(f"/v1/videos/{video['id']}/content").content
    trust = (gateway.settings.keys_dir / "dev-root-ca.pem").read_text()
    report = read_provenance(mp4, "video/mp4", trust_anchors_pem=trust)
    assert report.state == "trusted", report.validation_codes
    [ingredient] = _active(report)["ingredients"]
    assert ingredient["relationship"] == "inputTo" and "active_manifest" not in ingredient
    audit = _decision_for(gateway, video["id"])
    assert audit["decision"]["reference_image"]["c2pa"] == "invalid"
    assert audit["generated"]["reference_ingredient"] == {"format": "image/png", "c2pa_manifest": False,
                                                          "watermark_content_id": None, "registry_manifest_id": None}


def test_a_tampered_reference_is_recorded_with_its_failure_and_leaves_the_video_trusted(tmp_path):
    from gateway.media import encode_mp4
    from gateway.provenance import sign_asset_with_store

    ours = ensure_dev_ca(tmp_path / "ours")
    camera = ensure_dev_ca(tmp_path / "camera", organization="Example Camera Maker")
    definition = {"claim_generator_info": [{"name": "Example Camera", "version": "1.0"}], "title": "photo.jpg",
                  "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                      {"action": "c2pa.created", "digitalSourceType": CREATED_BY_CAMERA}]}}]}
    image = (np.random.default_rng(5).random((64, 64, 3)) * 255).astype(np.uint8)
    tampered = bytearray(sign_asset(_encode(image, "JPEG"), "image/jpeg", definition, camera))
    tampered[-100] ^= 0xFF  # a pixel byte changed after signing
    assert read_provenance(bytes(tampered), "image/jpeg", trust_anchors_pem=None).state == "invalid"
    claim = GenerationClaim(content_id=7, video_id="video_0000000000000007", model="m", model_version="1", seed=1,
                            policy="default@1", decision_id="dec_1", prompt_sha256="0" * 64,
                            created_at=dt.datetime.now(dt.timezone.utc),
                            watermark_alg="alg", watermark_value=content_id_binding_value(7), software_version="0")
    reference = ReferenceIngredient(data=bytes(tampered), mime="image/jpeg", has_manifest=True)
    manifest = build_manifest(claim, reference=reference)
    created = manifest["assertions"][0]["data"]["actions"][0]
    assert created["parameters"]["ingredientIds"] == [REFERENCE_INGREDIENT_ID]
    video = encode_mp4(np.zeros((8, 64, 64, 3), np.uint8), 8.0)
    signed = sign_asset_with_store(video, "video/mp4", manifest, ours, ingredients=[reference]).data
    report = read_provenance(signed, "video/mp4", trust_anchors_pem=ours.root_pem.decode() + camera.root_pem.decode())
    assert report.state == "trusted", report.validation_codes  # our claim holds; the input's failure is its own
    [ingredient] = _active(report)["ingredients"]
    failures = [entry["code"] for entry in ingredient["validation_results"]["activeManifest"]["failure"]]
    assert "assertion.dataHash.mismatch" in failures
