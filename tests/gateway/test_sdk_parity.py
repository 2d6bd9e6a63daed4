"""Code written for OpenAI's video API, run unchanged through the official SDK: model names, sizes, request ids,
spritesheets, expiry, and review holds that never hang ``create_and_poll``."""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta, timezone

import openai
import pytest
from PIL import Image

from gateway.audit import AuditLog
from gateway.bootstrap import Runtime
from gateway.store.db import Database


@pytest.fixture()
def client(gateway):
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=gateway.key_a, max_retries=0)


def test_openai_model_names_run_the_served_model(client):
    served = client.models.list().data
    ids = {m.id: m.to_dict() for m in served}
    assert "sora-2" in ids and "sora-2-pro" in ids
    native = next(m for m in ids.values() if not m.get("alias_of"))
    assert ids["sora-2"]["alias_of"] == native["id"] and ids["sora-2-pro"]["matches"] == "sora-2-pro*"
    assert native["native"] == {"frames": 16, "width": 32, "height": 32}  # the built-in model says it upsamples
    assert "720x1280" in native["sizes"]["openai_sizes"]

    for name in ("sora-2", "sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06"):
        video = client.videos.create(prompt="a red circle moving right", model=name, seconds="1", size="128x128")
        assert video.model == native["id"], (name, video.model)  # the model that runs, never the alias
        client.videos.delete(video.id)
    with pytest.raises(openai.BadRequestError) as unknown:
        client.videos.create(prompt="a red circle", model="gpt-image-1")
    assert unknown.value.code == "model_not_found" and unknown.value.param == "model"


def test_openai_sizes_and_its_default_size(client):
    # No size with an OpenAI model name: OpenAI's default shape, as the client's code expects.
    default = client.videos.create(prompt="a red circle moving right", model="sora-2", seconds="1")
    assert default.size == "720x1280"
    client.videos.delete(default.id)
    for size in ("720x1280", "1280x720", "1024x1792", "1792x1024"):
        video = client.videos.create(prompt="a red circle moving right", model="sora-2", seconds="1", size=size)
        assert video.size == size
        client.videos.delete(video.id)
    # The gateway's own default stays for its own model name.
    own = client.videos.create(prompt="a red circle moving right", seconds="1")
    assert own.size == "128x128"
    client.videos.delete(own.id)


def test_every_response_has_a_request_id(client, gateway):
    page = client.videos.with_raw_response.list(limit=1)
    rid = page.headers.get("x-request-id")
    assert rid and rid.startswith("req_") and page.parse().data is not None
    with pytest.raises(openai.NotFoundError) as missing:
        client.videos.retrieve("video_ffffffffffffffff")
    assert missing.value.request_id and missing.value.request_id.startswith("req_")
    with gateway.client() as http:
        mine = http.get("/v1/models", headers={"x-request-id": "lb-7f3a9c01-trace"})
        assert mine.headers["x-request-id"] == "lb-7f3a9c01-trace"  # a caller's plain id is kept
        hostile = http.get("/v1/models", headers={"x-request-id": "a\tb" * 3 + "<script>"})
        assert hostile.headers["x-request-id"].startswith("req_")  # anything else is replaced
        assert http.get("/healthz").headers["x-request-id"] != http.get("/healthz").headers["x-request-id"]


def test_spritesheet_variant(client):
    video = client.videos.create_and_poll(prompt="a blue square moving down on a white background", seconds="2",
                                          size="128x128", poll_interval_ms=200)
    assert video.status == "completed", video.error
    sheet = client.videos.download_content(video.id, variant="spritesheet")
    image = Image.open(io.BytesIO(sheet.read()))
    assert image.format == "JPEG"
    # 2 s at 8 fps = 16 frames: 5 to a row, 4 rows, 128-px tiles.
    assert image.size == (5 * 128, 4 * 128)
    thumb = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="thumbnail").read()))
    assert thumb.size == (128, 128)
    assert video.expires_at is None  # no retention configured: kept until deleted


def test_review_hold_ends_in_bounded_time_and_expiry_is_reported(start_gateway, tmp_path):
    from gateway.core.settings import Settings

    settings = Settings(data_dir=tmp_path, api_keys="k-user:t1,k-admin:ops:admin", default_size="128x128",
                        default_seconds=1, review_timeout=2, video_retention_hours=1)
    with start_gateway(settings) as base_url:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="k-user", max_retries=0)
        started = time.monotonic()
        held = client.videos.create_and_poll(prompt="Taylor Swift dancing on stage", poll_interval_ms=200)
        waited = time.monotonic() - started
        assert held.status == "failed" and held.error.code == "moderation_review_timeout", held
        assert waited < 30, waited
        admin = openai.OpenAI(base_url=f"{base_url}/v1", api_key="k-admin", max_retries=0)
        # An expired hold has left the operator's queue and can no longer be approved.
        assert held.id not in [r["id"] for r in admin.get("/reviews", cast_to=dict)["data"]]
        with pytest.raises(openai.NotFoundError):
            admin.post(f"/reviews/{held.id}/approve", cast_to=dict)

        done = client.videos.create_and_poll(prompt="a red circle moving right", poll_interval_ms=200)
        assert done.status == "completed"
        assert done.expires_at is not None and 3590 <= done.expires_at - done.completed_at <= 3610
        assert client.videos.download_content(done.id).read()[4:8] == b"ftyp"

        # Two hours on, the worker's housekeeping has removed the files; the record says why.
        rt = Runtime(settings)  # the CLI's view of the same data directory, beside the running gateway
        try:
            assert rt.generation.expire_content(now=datetime.now(timezone.utc) + timedelta(hours=2)) == 1
        finally:
            rt.close()
        with pytest.raises(openai.NotFoundError) as gone:
            client.videos.download_content(done.id)
        assert "no longer stored" in gone.value.message  # (past expires_at in real time: code video_expired)
        assert not list((tmp_path / "media").glob(f"{done.id}*"))
        assert client.videos.retrieve(done.id).status == "completed"  # the job itself stays
    db = Database(settings.resolved_database_url)
    try:
        trail = [(e.event, e.data.get("code")) for e in AuditLog(db).entries() if e.object_id == held.id]
    finally:
        db.dispose()
    assert ("review.expired", None) in trail and ("video.failed", "moderation_review_timeout") in trail
