"""The official openai SDK, unchanged, against the real server on loopback."""

from __future__ import annotations

import openai
import pytest


@pytest.fixture()
def client(gateway):
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=gateway.key_a, max_retries=0)


def test_sdk_create_poll_download_check(client, tmp_path):
    video = client.videos.create_and_poll(prompt="a green circle moving left on a white background",
                                          size="128x128", seconds="2", poll_interval_ms=200)
    assert video.status == "completed", video.error
    assert video.object == "video" and video.progress == 100
    target = tmp_path / "out.mp4"
    client.videos.download_content(video.id).write_to_file(target)
    assert target.stat().st_size > 1000

    listed = client.videos.list(limit=50)
    assert video.id in [v.id for v in listed.data]

    with target.open("rb") as handle:
        check = client.content_provenance_checks.create(file=handle)
    assert check.object == "content_provenance_check"
    c2pa = check.results[0]
    assert c2pa.type == "c2pa" and c2pa.validation_state == "trusted" and c2pa.outcome == "detected"
    watermark = check.results[1].to_dict()
    assert watermark["type"] == "watermark" and watermark["outcome"] == "detected"
    assert watermark["content_id"] == video.to_dict()["content_id"]

    deleted = client.videos.delete(video.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)


def test_sdk_errors_map_to_exceptions(client, gateway):
    with pytest.raises(openai.BadRequestError) as blocked:
        client.videos.create(prompt="a graphic video of a man being beheaded, blood and gore everywhere")
    assert blocked.value.code == "moderation_blocked"
    with pytest.raises(openai.BadRequestError) as bad_size:
        client.videos.create(prompt="a cat", size="1x1")
    assert bad_size.value.param == "size"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="nope", max_retries=0).videos.list()
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("video_ffffffffffffffff")


def test_sdk_moderations(client):
    result = client.moderations.create(input=["a golden retriever running on a beach at sunset",
                                              "a graphic video of a man being beheaded, blood and gore everywhere"])
    calm, gore = result.results
    assert calm.flagged is False and gore.flagged is True
    assert gore.categories.violence_graphic is True
    assert gore.category_scores.violence_graphic > calm.category_scores.violence_graphic
    assert set(calm.to_dict()["category_scores"]) >= {"sexual", "sexual/minors", "violence/graphic", "real_person"}
