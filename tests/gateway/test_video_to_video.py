"""remix, edit and extend through the official SDK: real video-to-video with the built-in model, and a provenance
chain from the new video back to its source."""

from __future__ import annotations

import io

import numpy as np
import openai
import pytest

from gateway.media import decode_media
from training.generator.analysis import analyse_clip

SOURCE_PROMPT = "a red circle moving right on a black background"


@pytest.fixture(scope="module")
def client(gateway):
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=gateway.key_a, max_retries=0)


@pytest.fixture(scope="module")
def source(client):
    video = client.videos.create_and_poll(prompt=SOURCE_PROMPT, seconds="2", size="128x128", poll_interval_ms=200,
                                          extra_body={"seed": "5"})
    assert video.status == "completed", video.error
    return video, client.videos.download_content(video.id).read()


def _frames(mp4: bytes) -> np.ndarray:
    return decode_media(mp4).frames


def _check(client, data: bytes) -> dict:
    return client.content_provenance_checks.create(file=("clip.mp4", io.BytesIO(data), "video/mp4")).to_dict()


def test_remix_keeps_the_motion_and_changes_the_colour(client, source):
    video, mp4 = source
    before = analyse_clip(_frames(mp4))
    assert (before.colour, before.motion) == ("red", "right"), before
    remix = client.videos.remix(video.id, prompt="a blue circle moving right on a black background",
                                extra_body={"seed": 3})
    assert remix.remixed_from_video_id == video.id and remix.status == "queued"
    remix = client.videos.poll(remix.id, poll_interval_ms=200)
    assert remix.status == "completed", remix.error
    assert remix.size == video.size and remix.seconds == video.seconds
    data = client.videos.download_content(remix.id).read()
    after = analyse_clip(_frames(data))
    assert after.colour == "blue" and after.motion == "right", after

    check = _check(client, data)
    assert check["verdict"]["origin"] == "this_gateway" and check["verdict"]["video_id"] == remix.id
    c2pa, _watermark, registry = check["results"]
    assert c2pa["validation_state"] == "trusted"
    assert [a["action"] for a in c2pa["actions"]][:2] == ["c2pa.opened", "c2pa.edited"]
    parent = c2pa["ingredients"][0]
    assert parent["relationship"] == "parentOf" and parent["content_id"] == video.to_dict()["content_id"]
    assert parent["credentials"] in ("valid", "trusted") and parent["manifest_id"]
    assert registry["parent_video_id"] == video.id  # the registry links the child to its parent


def test_extend_continues_the_last_frame_and_reports_the_total(client, source):
    video, mp4 = source
    upload = ("source.mp4", io.BytesIO(mp4), "video/mp4")
    extended = client.videos.extend(prompt=SOURCE_PROMPT, seconds="2", video=upload, extra_body={"seed": "4"})
    assert extended.seconds == "4"  # OpenAI: for extensions, the stitched total
    extended = client.videos.poll(extended.id, poll_interval_ms=200)
    assert extended.status == "completed", extended.error
    frames = _frames(client.videos.download_content(extended.id).read())
    src = _frames(mp4)
    assert frames.shape[0] == 32 and frames.shape[1:3] == src.shape[1:3]
    # The source part is the source (as re-encoded and re-marked), and the new part starts where it ended.
    def distance(a, b):
        return np.abs(a.astype(float) - b.astype(float)).mean()

    seam = distance(frames[16], src[-1])
    across = distance(src[0], src[-1])  # how far the source itself moves over its length
    assert distance(frames[15], src[-1]) < 4.0  # the source part is kept (re-encoded, marked anew)
    assert seam < across, (seam, across)
    assert analyse_clip(frames[16:]).motion == "right"
    check = _check(client, client.videos.download_content(extended.id).read())
    parent = check["results"][0]["ingredients"][0]
    assert parent["relationship"] == "parentOf" and parent["content_id"] == video.to_dict()["content_id"]
    assert any(a["action"] == "c2pa.edited" and "composite" in a.get("digital_source_type", "")
               for a in check["results"][0]["actions"])


def test_edit_by_id_and_a_tampered_parent_is_reported(client, gateway, source):
    video, mp4 = source
    with gateway.client() as http:
        # The SDK's {"id": ...} form: multipart video[id], and the same as JSON.
        by_form = http.post("/v1/videos/edits", files={"prompt": (None, "a green circle moving right"),
                                                       "video[id]": (None, video.id)})
        assert by_form.status_code == 200, by_form.text
        assert by_form.json()["remixed_from_video_id"] == video.id and by_form.json()["operation"] == "edit"
        by_json = http.post("/v1/videos/edits", json={"prompt": "a green circle", "video": {"id": video.id}})
        assert by_json.status_code == 200, by_json.text
        for job in (by_form.json(), by_json.json()):
            http.delete(f"/v1/videos/{job['id']}")
        other = gateway.client(gateway.key_b)
        refused = other.post("/v1/videos/edits", json={"prompt": "a green circle", "video": {"id": video.id}})
        assert refused.status_code == 404  # another tenant's video is not there for them
        missing = http.post("/v1/videos/extensions", json={"prompt": "more", "video": {"id": video.id}})
        assert missing.status_code == 400 and missing.json()["error"]["param"] == "seconds"

    # A source whose bytes were changed after signing: its manifest no longer matches. The edit still runs, and
    # the new video's manifest records the parent with its broken credentials.
    tampered = bytearray(mp4)
    at = tampered.rindex(b"mdat") + 400
    tampered[at:at + 16] = bytes(16)
    edited = client.videos.edit(prompt="a green circle moving right on a black background",
                                video=("tampered.mp4", io.BytesIO(bytes(tampered)), "video/mp4"),
                                extra_body={"seed": "2"})
    assert edited.remixed_from_video_id is None  # an upload, not one of our videos by id
    edited = client.videos.poll(edited.id, poll_interval_ms=200)
    assert edited.status == "completed", edited.error
    # The uploaded clip is the client's footage: kept only while the job could still run.
    assert not list((gateway.data_dir / "media").glob(f"{edited.id}.source*"))
    check = _check(client, client.videos.download_content(edited.id).read())
    assert check["results"][0]["validation_state"] == "trusted"  # the new video's own credentials hold
    parent = check["results"][0]["ingredients"][0]
    assert parent["credentials"] == "invalid" and parent["validation_codes"], parent


def test_bad_sources_are_refused_with_reasons(client):
    with pytest.raises(openai.UnsupportedMediaTypeError if hasattr(openai, "UnsupportedMediaTypeError")
                       else openai.APIStatusError) as not_video:
        client.videos.edit(prompt="a cat", video=("x.txt", io.BytesIO(b"hello, not a video"), "text/plain"))
    assert not_video.value.status_code == 415
    with pytest.raises(openai.NotFoundError):
        client.videos.remix("video_ffffffffffffffff", prompt="a cat")
