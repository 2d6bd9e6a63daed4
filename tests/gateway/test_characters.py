"""Consent-based likeness ("characters"): OpenAI's ``videos.create_character`` / ``get_character`` through the official
SDK, sharing, revocation and protected persons, on a real gateway over loopback with real H.264 uploads and the
real face model. A gateway of its own: a registered face changes what other tests' reference images meet."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import openai
import pytest
from PIL import Image

from gateway.media import encode_mp4

DATA = Path(__file__).resolve().parents[1] / "data"
KEY_A, KEY_B, KEY_C, KEY_ADMIN = "hm-char-a", "hm-char-b", "hm-char-c", "hm-char-admin"


def _rgb(name: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / name).convert("RGB"))


def _clip_of(name: str) -> bytes:
    """A 1.5 s H.264 clip of a portrait that drifts and brightens a little, as a phone video would."""
    portrait = _rgb(name)
    h, w = portrait.shape[:2]
    canvas = np.zeros((256, 256, 3), dtype=np.uint8)
    frames = []
    for t in range(12):
        frame = canvas.copy()
        dx = t  # a slow pan
        crop = portrait[:min(h, 256), :min(w, 256 - dx)]
        frame[:crop.shape[0], dx:dx + crop.shape[1]] = np.clip(crop.astype(int) + t, 0, 255).astype(np.uint8)
        frames.append(frame)
    return encode_mp4(np.stack(frames), 8.0, crf=23)


def _jpeg(name: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(_rgb(name)).save(out, format="JPEG", quality=90)
    return out.getvalue()


@pytest.fixture(scope="module")
def likeness_gateway(tmp_path_factory, start_gateway):
    from gateway.core.settings import Settings

    data_dir = tmp_path_factory.mktemp("hallmark-characters")
    settings = Settings(data_dir=data_dir,
                        api_keys=f"{KEY_A}:tenant-a,{KEY_B}:tenant-b,{KEY_C}:tenant-c,{KEY_ADMIN}:ops:admin",
                        default_size="128x128", default_seconds=1)
    with start_gateway(settings) as base_url:
        yield base_url, data_dir, settings


def _sdk(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)


def _request_video(base_url: str, key: str, reference: bytes | None, prompt: str = "a person waving in a sunny park",
                   characters: str | None = None):
    import httpx

    fields = {"prompt": (None, prompt), "size": (None, "128x128"), "seconds": (None, "1")}
    if reference is not None:
        fields["input_reference"] = ("ref.jpg", reference, "image/jpeg")
    if characters is not None:
        fields["characters"] = (None, characters)
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        return http.post("/v1/videos", files=fields)


def test_characters_consent_share_revoke_and_protected_persons(audit_events, likeness_gateway):
    base_url, data_dir, settings = likeness_gateway
    a, b = _sdk(base_url, KEY_A), _sdk(base_url, KEY_B)
    eileen_clip, eileen_photo = _clip_of("astronaut.jpg"), _jpeg("astronaut.jpg")

    # The SDK's create_character / get_character, unchanged: multipart name + video, then GET by id.
    created = a.videos.create_character(name="Marta Lindqvist", video=("eileen.mp4", eileen_clip, "video/mp4"))
    assert created.id.startswith("char_") and created.name == "Marta Lindqvist" and created.created_at > 0
    fetched = a.videos.get_character(created.id)
    assert (fetched.id, fetched.name, fetched.created_at) == (created.id, "Marta Lindqvist", created.created_at)
    assert fetched.to_dict()["status"] == "active" and fetched.to_dict()["faces"] >= 1
    with pytest.raises(openai.NotFoundError):  # another tenant cannot even see it
        b.videos.get_character(created.id)
    assert not list(data_dir.rglob("*.upload")), "the uploaded video is not kept unless configured"

    # The owner may use the likeness: not held for review although the photo shows a real face.
    owned = _request_video(base_url, KEY_A, eileen_photo)
    assert owned.status_code == 200, owned.text
    assert owned.json()["status"] == "queued" and owned.json().get("review") in (None, "none")

    # Named in the request's ``characters`` field: the owner may; another tenant gets 404, as for no such id.
    # The prompt classifier takes any name for a real person (review); a named character of one's own is not, but
    # another name beside it still is.
    named = _request_video(base_url, KEY_A, None, "Marta Lindqvist waves at the camera")
    assert named.status_code == 200 and named.json()["review"] == "pending"
    with_character = _request_video(base_url, KEY_A, None, "Marta Lindqvist waves at the camera", characters=created.id)
    assert with_character.status_code == 200 and with_character.json().get("review") in (None, "none")
    beside = _request_video(base_url, KEY_A, None, "Marta Lindqvist and Barack Obama dance in the rain",
                            characters=created.id)
    assert beside.status_code == 200 and beside.json()["review"] == "pending"
    unknown = _request_video(base_url, KEY_B, None, "Marta Lindqvist waves at the camera", characters=created.id)
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "characters"

    # Another tenant may not: blocked, with the rule named and the person not.
    refused = _request_video(base_url, KEY_B, eileen_photo)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "moderation_blocked"
    assert "has not consented" in error["message"] and "Marta" not in error["message"]
    # Nor may it register the same face as its own character.
    with pytest.raises(openai.ConflictError):
        b.videos.create_character(name="Me", video=("me.mp4", eileen_clip, "video/mp4"))

    # Shared with tenant-b, it may; unshared again, it may not.
    import httpx

    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=60) as http:
        shared = http.post(f"/v1/videos/characters/{created.id}/shares", json={"tenant": "tenant-b"})
        assert shared.status_code == 200 and shared.json()["shared_with"] == ["tenant-b"]
        assert _request_video(base_url, KEY_B, eileen_photo).status_code == 200
        assert b.videos.get_character(created.id).name == "Marta Lindqvist"
        assert http.delete(f"/v1/videos/characters/{created.id}/shares/tenant-b").status_code == 200
    assert _request_video(base_url, KEY_B, eileen_photo).status_code == 400

    # Revoking consent stops every further use, the owner's own too; the likeness stays protected.
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=60) as http:
        revoked = http.delete(f"/v1/videos/characters/{created.id}")
        assert revoked.status_code == 200 and revoked.json()["deleted"] is True
    assert a.videos.get_character(created.id).to_dict()["status"] == "revoked"
    after = _request_video(base_url, KEY_A, eileen_photo)
    assert after.status_code == 400 and "has not consented" in after.json()["error"]["message"]
    assert _request_video(base_url, KEY_A, None, "Marta Lindqvist waves", characters=created.id).status_code == 404

    # An operator's protected person may be depicted by nobody and registered by nobody.
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {KEY_ADMIN}"}, timeout=60) as http:
        person = http.post("/v1/protected_persons", files={"name": (None, "A public figure"),
                                                           "file": ("p.jpg", _jpeg("hopper.jpg"), "image/jpeg")})
        assert person.status_code == 200, person.text
        assert [p["id"] for p in http.get("/v1/protected_persons").json()["data"]] == [person.json()["id"]]
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=60) as http:
        assert http.get("/v1/protected_persons").status_code == 403
    blocked = _request_video(base_url, KEY_A, _jpeg("hopper.jpg"))
    assert blocked.status_code == 400 and "protected person" in blocked.json()["error"]["message"]
    assert "public figure" not in blocked.json()["error"]["message"].lower()
    with pytest.raises(openai.ConflictError):
        a.videos.create_character(name="Grace", video=("g.mp4", _clip_of("hopper.jpg"), "video/mp4"))

    # A clip without a face is refused with a reason; everything above is in the audit log, embeddings only.
    cat = _clip_of("chelsea.jpg")
    with pytest.raises(openai.BadRequestError) as no_face:
        a.videos.create_character(name="Cat", video=("cat.mp4", cat, "video/mp4"))
    assert no_face.value.code == "no_face_found"
    registered = audit_events(settings, "character.registered")
    assert [e.object_id for e in registered] == [created.id]
    assert registered[0].data["video_kept"] is False and "embedding" not in str(registered[0].data)
    assert [e.object_id for e in audit_events(settings, "character.revoked")] == [created.id]
    assert audit_events(settings, "character.shared") and audit_events(settings, "protected_person.registered")
    decisions = [e.data for e in audit_events(settings, "policy.decision") if e.tenant == "tenant-b"]
    assert any(m["kind"] == "not_consented" for d in decisions if d.get("visual") for m in d["visual"]["likeness"])


def test_character_errors(likeness_gateway):
    base_url, _, _ = likeness_gateway
    c = _sdk(base_url, KEY_C)
    with pytest.raises(openai.NotFoundError):
        c.videos.get_character("char_000000000000000000000000")
    with pytest.raises(openai.BadRequestError) as long_name:
        c.videos.create_character(name="x" * 81, video=("v.mp4", _clip_of("astronaut.jpg"), "video/mp4"))
    assert long_name.value.param == "name"
    with pytest.raises(openai.UnsupportedMediaTypeError if hasattr(openai, "UnsupportedMediaTypeError")
                       else openai.APIStatusError) as not_media:
        c.videos.create_character(name="Text", video=("v.txt", b"hello, not a video", "text/plain"))
    assert not_media.value.status_code == 415


def test_the_upload_is_kept_only_when_configured_and_goes_with_revocation(tmp_path):
    from gateway.bootstrap import Runtime
    from gateway.core.auth import Principal
    from gateway.core.settings import Settings

    rt = Runtime(Settings(data_dir=tmp_path, api_keys="hm-k:tenant-k", keep_character_videos=True))
    try:
        owner = Principal(tenant="tenant-k", role="user", key_id="0" * 12)
        clip = _clip_of("astronaut.jpg")
        created = rt.characters.create(owner, name="Eileen", video=clip)
        kept = list((tmp_path / "media").rglob(f"{created['id']}*"))
        assert len(kept) == 1 and kept[0].read_bytes() == clip
        # A face the tenant consented to matches as consented; after revocation as not consented, and the file goes.
        face = rt.visual.inspect([_rgb("astronaut.jpg")], ["reference image"], tenant="tenant-k", minor_score=0.0)
        assert face.only_consented_faces and face.decision.action == "allow"
        rt.characters.revoke(owner, created["id"])
        assert not list((tmp_path / "media").rglob(f"{created['id']}*"))
        face = rt.visual.inspect([_rgb("astronaut.jpg")], ["reference image"], tenant="tenant-k", minor_score=0.0)
        assert face.decision.action == "block" and face.face_matches[0].kind == "not_consented"
    finally:
        rt.close()
