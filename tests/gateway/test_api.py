"""The HTTP API through real HTTP (httpx) against a real uvicorn server: shapes, tenancy, errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gateway.media import probe_mp4


def form(**fields):
    return {k: (None, v) for k, v in fields.items()}


def error_of(response):
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"message", "type", "param", "code"} <= set(body["error"]), body
    return body["error"]


def test_healthz(gateway):
    with gateway.client(None) as http:
        response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "trust_dev_root": True}


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Basic abc"])
def test_missing_or_unknown_key_is_401(gateway, header):
    import httpx

    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{gateway.base_url}/v1/videos", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["type"] == "authentication_error"


def test_generate_poll_download(gateway, completed_video):
    video, mp4 = completed_video
    assert video["object"] == "video"
    assert video["progress"] == 100
    assert video["completed_at"] >= video["created_at"]
    assert video["size"] == "128x128" and video["seconds"] == "2"
    assert video["error"] is None
    info = probe_mp4(mp4)
    assert info["codec"] == "h264"
    assert (info["width"], info["height"]) == (128, 128)
    with gateway.client() as http:
        thumb = http.get(f"/v1/videos/{video['id']}/content", params={"variant": "thumbnail"})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size[0] > 0


def test_provenance_check_on_generated_video(gateway, completed_video):
    video, mp4 = completed_video
    with gateway.client(gateway.key_b) as http:  # any tenant may check a file
        response = http.post("/v1/content_provenance_checks", files={"file": ("v.mp4", mp4, "video/mp4")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "content_provenance_check"
    c2pa, wm, registry = body["results"]
    assert c2pa["type"] == "c2pa" and c2pa["outcome"] == "detected"
    assert c2pa["validation_state"] == "trusted"
    assert c2pa["content_id"] == video["content_id"]
    assert wm["type"] == "watermark" and wm["outcome"] == "detected"
    assert wm["content_id"] == video["content_id"]
    assert registry["outcome"] == "matched" and registry["video_id"] == video["id"]
    assert registry["method"] == "manifest"
    assert body["generated_by_this_gateway"] is True
    # the manifest summary: what was done, when, by which software (no timestamp authority here: no signed_at)
    assert c2pa["signed_at"] is None and c2pa["generated_at"] and c2pa["claim_generator"].startswith("Hallmark")
    actions = {a["action"]: a for a in c2pa["actions"]}
    assert set(actions) == {"c2pa.created", "c2pa.watermarked.bound"}
    assert actions["c2pa.created"]["digital_source_type"].endswith("/trainedAlgorithmicMedia")
    assert video["model"] in actions["c2pa.created"]["software_agent"]
    # the overall verdict: both layers agree on the record, the credentials are intact
    verdict = body["verdict"]
    assert verdict["origin"] == "this_gateway" and verdict["content_id"] == video["content_id"]
    assert verdict["video_id"] == video["id"] and verdict["altered"] is False and verdict["conflicts"] == {}
    assert set(verdict["evidence"]) == {"c2pa", "watermark"}
    assert verdict["confidence"] >= verdict["evidence"]["c2pa"] >= 0.999


def test_flipped_byte_is_invalid_with_bmff_mismatch(gateway, completed_video):
    _, mp4 = completed_video
    data = bytearray(mp4)
    mdat = data.find(b"mdat")
    assert mdat > 0
    data[mdat + 200] ^= 0xFF
    with gateway.client() as http:
        response = http.post("/v1/content_provenance_checks", files={"file": ("v.mp4", bytes(data), "video/mp4")})
    assert response.status_code == 200, response.text
    c2pa = response.json()["results"][0]
    assert c2pa["validation_state"] == "invalid"
    assert any("bmffHash.mismatch" in code for code in c2pa["validation_codes"]), c2pa
    # an invalid manifest vouches for nothing; the file is still traced by its watermark, and reported altered
    verdict = response.json()["verdict"]
    assert verdict["altered"] is True and "c2pa" not in verdict["evidence"]


def test_manifest_removed_watermark_still_names_content(gateway, completed_video):
    from gateway.provenance import strip_manifest

    video, mp4 = completed_video
    stripped = strip_manifest(mp4)
    assert stripped != mp4
    with gateway.client() as http:
        response = http.post("/v1/content_provenance_checks", files={"file": ("v.mp4", stripped, "video/mp4")})
    c2pa, wm, registry = response.json()["results"]
    assert c2pa["validation_state"] == "not_present" and c2pa["outcome"] == "not_detected"
    assert wm["outcome"] == "detected" and wm["content_id"] == video["content_id"]
    assert registry["video_id"] == video["id"]
    # durable credentials: the registry's copy of the original manifest still validates against the stripped file
    assert registry["recovered_manifest"]["validation_state"] == "trusted"
    assert registry["manifest_id"].startswith("urn:c2pa:")
    recovered = registry["recovered_manifest"]
    labels = {a["label"].split("__")[0] for a in recovered["manifest"]["assertions"]}
    assert {"c2pa.soft-binding", "com.hallmark.generation"} <= labels
    assert labels & {"c2pa.actions", "c2pa.actions.v2"}
    assert recovered["actions"][0]["action"] == "c2pa.created"
    with gateway.client() as http:  # the signed store itself, from the Soft Binding Resolution API
        store = http.get(recovered["manifest_url"])
    assert store.status_code == 200 and store.headers["content-type"] == "application/c2pa"
    verdict = response.json()["verdict"]
    assert verdict["origin"] == "this_gateway" and verdict["video_id"] == video["id"]
    assert list(verdict["evidence"]) == ["watermark"] and verdict["confidence"] == wm["confidence"]
    assert verdict["altered"] is False  # the recovered manifest still binds these bytes: only metadata was removed


def test_unmarked_image_is_not_detected(gateway):
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 255, (160, 200, 3), dtype=np.uint8))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    with gateway.client() as http:
        response = http.post("/v1/content_provenance_checks", files={"file": ("x.png", buf.getvalue(), "image/png")})
    assert response.status_code == 200, response.text
    c2pa, wm, registry = response.json()["results"]
    assert c2pa["validation_state"] == "not_present"
    assert wm["outcome"] == "not_detected"
    assert registry["outcome"] == "not_matched"
    assert response.json()["generated_by_this_gateway"] is False
    assert response.json()["verdict"] == {"origin": "not_recognised", "content_id": None, "video_id": None,
                                          "confidence": 0.0, "altered": None, "evidence": {}, "conflicts": {}}


def test_other_tenant_sees_404(gateway, completed_video):
    video, _ = completed_video
    with gateway.client(gateway.key_b) as http:
        for response in (http.get(f"/v1/videos/{video['id']}"),
                         http.get(f"/v1/videos/{video['id']}/content"),
                         http.delete(f"/v1/videos/{video['id']}")):
            assert response.status_code == 404
            assert error_of(response)["code"] == "not_found"
        listed = http.get("/v1/videos").json()
    assert video["id"] not in [v["id"] for v in listed["data"]]


def test_check_by_another_tenant_reveals_no_prompt_or_identity(gateway, completed_video):
    """A check answers with system provenance only: another tenant's prompt, tenant name and key never appear, neither
    in the check nor in the original manifest the Soft Binding API hands out."""
    video, mp4 = completed_video
    with gateway.client(gateway.key_b) as http:
        check = http.post("/v1/content_provenance_checks", files={"file": ("v.mp4", mp4, "video/mp4")})
        assert check.status_code == 200, check.text
        manifest_id = check.json()["results"][2]["manifest_id"]
        manifest = http.get(f"/manifests/{manifest_id}")
    assert manifest.status_code == 200
    assert check.json()["generated_by_this_gateway"] is True
    for secret in ("red circle", "tenant-a", gateway.key_a):
        assert secret not in check.text
        assert secret.encode() not in manifest.content


def test_unknown_id_is_404(gateway):
    with gateway.client() as http:
        response = http.get("/v1/videos/video_0000000000000000")
    assert response.status_code == 404


def test_list_pagination_and_delete(gateway):
    with gateway.client(gateway.key_b) as http:
        ids = []
        for n in range(3):
            created = http.post("/v1/videos", data={"prompt": f"a blue square moving up, take {n}", "seconds": "1"})
            assert created.status_code == 200, created.text
            ids.append(created.json()["id"])
        page = http.get("/v1/videos", params={"limit": 2, "order": "asc"}).json()
        assert [v["id"] for v in page["data"]] == ids[:2]
        assert page["has_more"] is True and page["first_id"] == ids[0] and page["last_id"] == ids[1]
        rest = http.get("/v1/videos", params={"limit": 2, "order": "asc", "after": page["last_id"]}).json()
        assert [v["id"] for v in rest["data"]] == ids[2:] and rest["has_more"] is False
        newest = http.get("/v1/videos", params={"limit": 1}).json()
        assert newest["data"][0]["id"] == ids[-1]

        deleted = http.delete(f"/v1/videos/{ids[0]}")
        assert deleted.status_code == 200
        assert deleted.json() == {"id": ids[0], "object": "video.deleted", "deleted": True}
        assert http.get(f"/v1/videos/{ids[0]}").status_code == 404
        for video_id in ids[1:]:
            assert gateway.wait_done(video_id, key=gateway.key_b)["status"] == "completed"
        bad = http.get("/v1/videos", params={"limit": 0})
        assert bad.status_code == 400 and error_of(bad)["param"] == "limit"


def _png(size=(160, 160)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 60, 200)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    "files,status,param",
    [
        (form(prompt=""), 400, "prompt"),
        (form(prompt="   "), 400, "prompt"),
        (form(size="256x256"), 400, "prompt"),  # missing prompt
        (form(prompt="x" * (1024 * 1024)), 400, "prompt"),
        (form(prompt="a cat", size="999x999"), 400, "size"),
        (form(prompt="a cat", size="big"), 400, "size"),
        (form(prompt="a cat", seconds="four"), 400, "seconds"),
        (form(prompt="a cat", seconds="0"), 400, "seconds"),
        (form(prompt="a cat", model="gpt-image-1"), 400, "model"),  # sora-2 is an alias (test_sdk_parity)
        ({"prompt": (None, "a cat"), "input_reference": ("r.png", b"", "image/png")}, 400, "input_reference"),
        ({"prompt": (None, "a cat"), "input_reference": ("r.txt", b"hello, not an image", "text/plain")}, 415,
         "input_reference"),
        ({"prompt": (None, "a cat"), "input_reference": ("r.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")},
         422, "input_reference"),
    ],
)
def test_create_rejects_bad_input(gateway, files, status, param):
    with gateway.client() as http:
        response = http.post("/v1/videos", files=files)
    assert response.status_code == status, response.text
    assert error_of(response)["param"] == param


def test_create_with_reference_image(gateway):
    with gateway.client() as http:
        response = http.post("/v1/videos", files={"prompt": (None, "a yellow triangle"), "seconds": (None, "1"),
                                                  "input_reference": ("r.png", _png(), "image/png")})
    assert response.status_code == 200, response.text
    assert gateway.wait_done(response.json()["id"])["status"] == "completed"


def test_json_body_is_rejected_clearly(gateway):
    with gateway.client() as http:
        response = http.post("/v1/videos", json={"prompt": "a cat"})
    assert response.status_code == 400
    assert "multipart" in error_of(response)["message"]


@pytest.mark.parametrize(
    "payload,status",
    [
        (b"", 400),
        (b"this is a plain text file, not a video", 415),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x13" * 4000, 422),
    ],
)
def test_check_rejects_bad_files(gateway, payload, status):
    with gateway.client() as http:
        response = http.post("/v1/content_provenance_checks", files={"file": ("f.mp4", payload, "video/mp4")})
    assert response.status_code == status, response.text
    assert error_of(response)["param"] == "file"


def test_oversized_upload_is_413(gateway):
    with gateway.client() as http:
        response = http.post("/v1/content_provenance_checks",
                             files={"file": ("big.mp4", b"\0" * (gateway.max_upload + 200_000), "video/mp4")})
    assert response.status_code == 413
    assert error_of(response)["code"] == "file_too_large"


def test_blocked_prompt_is_400_audited_and_not_generated(gateway):
    from gateway.audit import AuditLog
    from gateway.store.db import Database

    prompt = "a graphic video of a man being beheaded, blood and gore everywhere"
    with gateway.client() as http:
        before = http.get("/v1/videos", params={"limit": 100}).json()["data"]
        response = http.post("/v1/videos", data={"prompt": prompt})
        after = http.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "moderation_blocked"
    assert error["categories"], error
    assert len(after) == len(before)
    db = Database(gateway.settings.resolved_database_url)
    try:
        decisions = AuditLog(db).entries(event="policy.decision", tenant="tenant-a")
        assert any(e.object_id == error["decision_id"] and e.data["action"] != "allow" for e in decisions)
        assert all(prompt not in str(e.data) for e in decisions)  # only the hash is stored
    finally:
        db.dispose()


def test_unknown_route_is_openai_shaped(gateway):
    with gateway.client() as http:
        response = http.get("/v1/nothing-here")
    assert response.status_code == 404
    error_of(response)


def test_models_list(gateway):
    with gateway.client() as http:
        body = http.get("/v1/models").json()
    assert body["object"] == "list"
    assert body["data"][0]["id"] and body["data"][0]["description"]


def test_soft_binding_resolution(gateway, completed_video):
    import base64

    from gateway.provenance import strip_manifest

    video, mp4 = completed_video
    with gateway.client() as http:
        algorithms = http.get("/services/supportedAlgorithms").json()
        alg = algorithms["watermarks"][0]["alg"]
        value = base64.b64encode(bytes.fromhex(video["content_id"])).decode()
        by_get = http.get("/matches/byBinding", params={"alg": alg, "value": value}).json()
        by_post = http.post("/matches/byBinding", json={"alg": alg, "value": value}).json()
        assert by_get == by_post and len(by_get["matches"]) == 1
        manifest_id = by_get["matches"][0]["manifestId"]
        assert by_get["matches"][0]["similarityScore"] == 100

        by_content = http.post("/matches/byContent", content=strip_manifest(mp4),
                               headers={"content-type": "video/mp4"}).json()
        assert by_content["matches"][0]["manifestId"] == manifest_id

        store = http.get(f"/manifests/{manifest_id}")
        assert store.status_code == 200 and store.headers["content-type"] == "application/c2pa"
        assert b"c2pa" in store.content[:64]

        unknown = base64.b64encode(b"\x00" * 8).decode()
        assert http.get("/matches/byBinding", params={"alg": alg, "value": unknown}).json() == {"matches": []}
        assert http.get("/manifests/urn:c2pa:nope").status_code == 404
        bad = http.get("/matches/byBinding", params={"alg": "other.alg", "value": value})
        assert bad.status_code == 400 and error_of(bad)["param"] == "alg"
        bad = http.get("/matches/byBinding", params={"alg": alg, "value": "!!"})
        assert bad.status_code == 400 and error_of(bad)["param"] == "value"
        text = http.post("/matches/byContent", content=b"just text")
        assert text.status_code == 415


def _transcode(mp4: bytes, fmt: str, codec: str) -> bytes:
    """Decode our MP4 and encode it again as another container (metadata and manifest do not survive)."""
    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(mp4)) as src, av.open(out, mode="w", format=fmt) as dst:
        stream = dst.add_stream(codec, rate=8)
        opened = False
        for frame in src.decode(video=0):
            if not opened:
                stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "yuv420p"
                if codec == "libvpx":
                    stream.bit_rate = 2_000_000
                opened = True
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize("fmt, codec, mime", [("webm", "libvpx", "video/webm"), ("mov", "libx264", "video/quicktime")])
def test_transcoded_to_another_container_is_traced(gateway, completed_video, fmt, codec, mime):
    video, mp4 = completed_video
    data = _transcode(mp4, fmt, codec)
    with gateway.client() as http:
        response = http.post("/v1/content_provenance_checks", files={"file": (f"v.{fmt}", data, mime)})
    assert response.status_code == 200, response.text
    c2pa, wm, registry = response.json()["results"]
    assert c2pa["validation_state"] == "not_present"
    assert wm["outcome"] == "detected" and wm["content_id"] == video["content_id"]
    assert registry["outcome"] == "matched" and registry["video_id"] == video["id"]
    assert response.json()["verdict"]["origin"] == "this_gateway"


@pytest.mark.parametrize("grab", ["full", "small"])
def test_frame_grab_is_traced(gateway, completed_video, grab):
    import av

    video, mp4 = completed_video
    with av.open(io.BytesIO(mp4)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    image = Image.fromarray(frame)
    if grab == "small":  # below the watermark's 128-px minimum: only the fingerprint can trace it
        image = image.resize((100, 100), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90)
    with gateway.client() as http:
        response = http.post("/v1/content_provenance_checks", files={"file": ("grab.jpg", buf.getvalue(), "image/jpeg")})
    assert response.status_code == 200, response.text
    c2pa, wm, registry = response.json()["results"]
    assert c2pa["validation_state"] == "not_present"
    assert registry["outcome"] == "matched" and registry["video_id"] == video["id"], (wm, registry)
    if grab == "small":
        assert wm["outcome"] == "not_detected" and registry["method"] == "fingerprint"
        verdict = response.json()["verdict"]
        assert list(verdict["evidence"]) == ["fingerprint"] and 0.5 <= verdict["confidence"] <= 1.0
        assert verdict["confidence"] == pytest.approx(0.5 + 0.5 * (1 - registry["score"] / registry["score_limit"]),
                                                      abs=1e-4)


def test_moderations_rejects_bad_input(gateway):
    with gateway.client() as http:
        for body in ({"input": []}, {"input": ["x" * 5000]}, {}):
            response = http.post("/v1/moderations", json=body)
            assert response.status_code == 400, response.text
            error_of(response)
