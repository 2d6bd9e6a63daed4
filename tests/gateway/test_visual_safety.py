"""Visual safety: output frames screened before anything is stored or signed, PDQ hash lists, and images through
/v1/moderations — on a real gateway over loopback (the official SDK where it applies), real H.264, real models.
A gateway of its own: hash lists and packs here would change what other tests' pictures meet."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
import yaml
from PIL import Image

from classifiers.visual import pdq_hash
from generator.types import Frames

DATA = Path(__file__).resolve().parents[1] / "data"
KEY_A, KEY_Z, KEY_ADMIN = "hm-vis-a", "hm-vis-z", "hm-vis-admin"


def _rgb(name: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / name).convert("RGB"))


def _encoded(x: np.ndarray, fmt: str = "JPEG", **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(x).save(out, format=fmt, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def visual_gateway(tmp_path_factory, start_gateway):
    """tenant-a: the default pack; tenant-z: a pack whose visual rules block any image score at all, so that the
    real classifier's score on a real generated clip takes the output-block path end to end."""
    from gateway.core.settings import Settings
    from policies import load_pack

    data_dir = tmp_path_factory.mktemp("hallmark-visual")
    pack = load_pack("default").to_dict()
    pack.update(id="block-any-image", version="1")
    pack["visual"]["sexual"] = {"review": None, "block": 0.0}
    pack_path = data_dir.parent / "block-any-image.yaml"
    pack_path.write_text(yaml.safe_dump(pack, allow_unicode=True))
    settings = Settings(data_dir=data_dir, api_keys=f"{KEY_A}:tenant-a,{KEY_Z}:tenant-z,{KEY_ADMIN}:ops:admin",
                        tenant_policies=f"tenant-z:{pack_path}", default_size="128x128", default_seconds=1)
    with start_gateway(settings) as base_url:
        yield base_url, data_dir, settings


def _client(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def _wait(http: httpx.Client, video_id: str) -> dict:
    import time

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        body = http.get(f"/v1/videos/{video_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{video_id} did not finish")


def test_a_blocked_output_is_never_stored_or_signed_and_is_audited(audit_events, visual_gateway):
    base_url, data_dir, settings = visual_gateway
    with _client(base_url, KEY_Z) as http:
        created = http.post("/v1/videos", files={"prompt": (None, "a red circle moving right on a black background"),
                                                 "size": (None, "128x128"), "seconds": (None, "1")})
        assert created.status_code == 200, created.text
        video = _wait(http, created.json()["id"])
        assert video["status"] == "failed" and video["error"]["code"] == "output_blocked", video
        assert "image sexual score" in video["error"]["message"] and "Nothing was stored" in video["error"]["message"]
        assert http.get(f"/v1/videos/{video['id']}/content").status_code == 400  # never completed, nothing to get
    assert not [p for p in (data_dir / "media").rglob(f"{video['id']}*")], "no file of a blocked output is stored"
    from gateway.store.db import Database, RegistryRecord

    db = Database(settings.resolved_database_url)
    try:
        with db.session() as session:
            assert session.get(RegistryRecord, video["content_id"]) is None, "a blocked output is never signed"
    finally:
        db.dispose()
    decided = [e for e in audit_events(settings, "policy.output_decision") if e.object_id == video["id"]]
    assert len(decided) == 1
    data = decided[0].data
    assert data["stage"] == "visual" and data["action"] == "block"
    frames = data["frames"]
    assert frames[0] == 0 and frames[-1] == data["frame_count"] - 1 and len(frames) == len(data["sexual_scores"])
    assert data["frame_count"] // 2 in frames or (data["frame_count"] - 1) // 2 in frames  # the middle too
    assert not [e for e in audit_events(settings, "video.generated") if e.object_id == video["id"]]
    failed = [e for e in audit_events(settings, "video.failed") if e.object_id == video["id"]]
    assert failed and failed[0].data["code"] == "output_blocked"

    # The same request under the default pack completes: the generated frames score far below its thresholds.
    with _client(base_url, KEY_A) as http:
        created = http.post("/v1/videos", files={"prompt": (None, "a red circle moving right on a black background"),
                                                 "size": (None, "128x128"), "seconds": (None, "1")})
        assert _wait(http, created.json()["id"])["status"] == "completed"
    passed = [e for e in audit_events(settings, "policy.output_decision") if e.object_id == created.json()["id"]]
    assert passed and passed[0].data["action"] == "allow" and max(passed[0].data["sexual_scores"]) < 0.5


def test_a_hash_list_match_blocks_a_reference_image(audit_events, visual_gateway):
    base_url, data_dir, settings = visual_gateway
    cat = _rgb("chelsea.jpg")
    # The list holds the hash of another copy (a PNG, half size): the match has to survive a resize and a re-encode.
    small = np.asarray(Image.fromarray(cat).resize((cat.shape[1] // 2, cat.shape[0] // 2)))
    listed = pdq_hash(small)[0]
    csv = f"hash,label\n{listed},demo\n{'0' * 64},padding\n".encode()
    with _client(base_url, KEY_ADMIN) as admin:
        imported = admin.post("/v1/hash_lists", files={"name": (None, "demo-list"), "action": (None, "block"),
                                                       "file": ("known.csv", csv, "text/csv")})
        assert imported.status_code == 200, imported.text
        assert imported.json()["entries"] == 2 and imported.json()["action"] == "block"
        assert [x["name"] for x in admin.get("/v1/hash_lists").json()["data"]] == ["demo-list"]
        bad = admin.post("/v1/hash_lists", files={"name": (None, "bad"), "file": ("x.txt", b"abc\nnot a hash\n")})
        assert bad.status_code == 400 and "lines 2" in bad.json()["error"]["message"]
    with _client(base_url, KEY_A) as http:
        assert http.get("/v1/hash_lists").status_code == 403
        before = len(http.get("/v1/videos").json()["data"])
        references = sorted((data_dir / "media").rglob("*reference*"))
        refused = http.post("/v1/videos", files={"prompt": (None, "a cat sitting on a sofa"),
                                                 "input_reference": ("cat.jpg", _encoded(cat, quality=85),
                                                                     "image/jpeg")})
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["code"] == "moderation_blocked" and "hash list 'demo-list'" in error["message"]
        assert len(http.get("/v1/videos").json()["data"]) == before, "no job was made"
    assert sorted((data_dir / "media").rglob("*reference*")) == references, "the matching picture is not stored"
    decisions = [e.data for e in audit_events(settings, "policy.decision") if e.data.get("visual")]
    hits = [h for d in decisions for h in d["visual"]["hash_lists"]]
    assert hits and hits[-1]["list"] == "demo-list" and hits[-1]["distance"] <= 31
    assert listed not in str(decisions), "the audit names the list, not the hash of the picture"

    with _client(base_url, KEY_ADMIN) as admin:
        assert admin.delete("/v1/hash_lists/demo-list").status_code == 200
    with _client(base_url, KEY_A) as http:
        allowed = http.post("/v1/videos", files={"prompt": (None, "a cat sitting on a sofa"),
                                                 "input_reference": ("cat.jpg", _encoded(cat), "image/jpeg")})
        assert allowed.status_code == 200, allowed.text
    imported_events = audit_events(settings, "hash_list.imported")
    assert imported_events and imported_events[0].data["entries"] == 2


def test_image_moderation_through_the_sdk(visual_gateway):
    base_url, _, _ = visual_gateway
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=KEY_A, max_retries=0)
    url = "data:image/png;base64," + base64.b64encode(_encoded(_rgb("astronaut.jpg"), "PNG")).decode()
    result = client.moderations.create(model="omni-moderation-latest", input=[
        {"type": "text", "text": "an astronaut portrait"}, {"type": "image_url", "image_url": {"url": url}}])
    assert result.model == "omni-moderation-latest" and len(result.results) == 1
    only = result.results[0]
    assert only.flagged is False and only.category_scores.sexual < 0.2
    applied = only.category_applied_input_types
    assert applied.sexual == ["text", "image"] and applied.violence == ["text"] and applied.hate == ["text"]

    pictures = client.moderations.create(input=[{"type": "image_url", "image_url": {"url": url}}])
    applied = pictures.results[0].category_applied_input_types
    assert applied.sexual == ["image"] and applied.hate == [] and pictures.results[0].category_scores.hate == 0.0
    assert pictures.model  # no model asked for: the classifiers that answered

    texts = client.moderations.create(input=["a golden retriever on a beach", "a graphic beheading, gore"])
    assert [r.flagged for r in texts.results] == [False, True]
    assert all(v == ["text"] for v in texts.results[0].to_dict()["category_applied_input_types"].values())

    with pytest.raises(openai.BadRequestError) as remote:
        client.moderations.create(input=[{"type": "image_url", "image_url": {"url": "http://127.0.0.1/x.png"}}])
    assert remote.value.param == "input" and "not fetched" in remote.value.message
    with pytest.raises(openai.APIStatusError) as not_image:
        client.moderations.create(input=[{"type": "image_url",
                                          "image_url": {"url": "data:image/png;base64,aGVsbG8="}}])
    assert not_image.value.status_code == 415


class _Replay:
    """A model that returns the clip it was given: the pipeline is what is under test here, not the model."""

    name, version, description = "replay", "1", "returns a fixed clip"

    def __init__(self, frames: np.ndarray) -> None:
        self.frames = frames

    def generate(self, request, *, progress=None) -> Frames:
        return Frames(frames=self.frames, fps=8.0)


def test_late_risks_in_a_clip_are_caught_before_signing(tmp_path):
    """The last frames of a clip show a protected person, the middle ones a listed picture: both are found."""
    from gateway.bootstrap import Runtime
    from gateway.core.errors import OutputBlocked
    from gateway.core.lazy import Lazy
    from gateway.core.settings import Settings
    from gateway.generation.pipeline import GenerationJob, MarkingOptions, Producer

    rt = Runtime(Settings(data_dir=tmp_path, api_keys="hm-k:tenant-t"))
    try:
        rt.characters.protect(name="Someone", data=_encoded(_rgb("astronaut.jpg")), actor="test")
        hopper = np.zeros((256, 256, 3), dtype=np.uint8)
        hopper[:, 19:237] = _rgb("hopper.jpg")
        rt.hash_lists.import_list(name="late-list", action="block", data=pdq_hash(hopper)[0].encode(),
                                  source="t.txt", actor="test")
        calm = np.full((256, 256, 3), 40, dtype=np.uint8)
        clips = {"likeness": np.stack([calm] * 28 + [_rgb("astronaut.jpg")] * 4),
                 "hash": np.stack([calm] * 15 + [hopper] * 2 + [calm] * 15)}
        for case, frames in clips.items():
            producer = Producer(generator=Lazy(lambda f=frames: _Replay(f)), policies=rt.policies, works=rt.works,
                                registry=rt.registry, audit=rt.audit, signing=Lazy(lambda: rt.signing),
                                options=MarkingOptions(organization="t", watermark_strength=1.0, mp4_crf=23),
                                visual=rt.visual)
            job = GenerationJob(video_id=f"video_{case}", content_id=1, tenant="tenant-t", actor="test",
                                prompt="a quiet room", seconds=4, size=(256, 256), seed=1, policy="p", decision_id="d")
            with pytest.raises(OutputBlocked) as blocked:
                producer.produce(job)
            assert blocked.value.code == "output_blocked"
            rule = "protected person" if case == "likeness" else "hash list 'late-list'"
            assert rule in blocked.value.message and "Someone" not in blocked.value.message
        entries = {e.object_id: e.data for e in rt.audit.entries(event="policy.output_decision")}
        assert entries["video_likeness"]["likeness"][0]["where"] == "frame 31"
        assert entries["video_hash"]["hash_lists"][0]["where"] in ("frame 15", "frame 16")
        assert not rt.audit.entries(event="video.generated")
    finally:
        rt.close()


def test_registered_works_carry_pdq_beside_phash(tmp_path):
    from gateway.bootstrap import Runtime
    from gateway.core.settings import Settings

    rt = Runtime(Settings(data_dir=tmp_path, api_keys="hm-k:tenant-t"))
    try:
        photo = _rgb("hopper.jpg")
        work = rt.works.add(data=_encoded(photo), title="portrait", owner="archive", actor="test")
        assert work["pdq_hashes"] >= 1 and rt.works.list()[0]["pdq_hashes"] == work["pdq_hashes"]
        half = np.asarray(Image.fromarray(photo).resize((photo.shape[1] // 2, photo.shape[0] // 2)))
        match = rt.works.match(half[None])
        assert match.work_id == work["id"] and match.similarity >= 0.5
        assert rt.works.match(_rgb("chelsea.jpg")[None]).similarity < 0.5
        rt.works.remove(work["id"], actor="test")
        assert rt.works.match(half[None]).work_id is None
    finally:
        rt.close()


def test_hash_list_and_protected_person_cli(tmp_path):
    import subprocess
    import sys

    hashes = tmp_path / "known.txt"
    hashes.write_text(f"# demo list\n{pdq_hash(_rgb('chelsea.jpg'))[0]}\n")
    portrait = tmp_path / "p.jpg"
    portrait.write_bytes(_encoded(_rgb("hopper.jpg")))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "gateway", *args, "--data-dir", str(tmp_path / "d")],
                              capture_output=True, text=True, timeout=300)

    imported = run("hashlists", "import", str(hashes), "--name", "demo", "--action", "review")
    assert imported.returncode == 0, imported.stderr
    assert "1 hashes" in imported.stdout and "demo" in run("hashlists", "list").stdout
    assert run("hashlists", "import", str(portrait), "--name", "bad").returncode == 2  # not a hash list
    assert run("hashlists", "remove", "demo").returncode == 0 and run("hashlists", "remove", "demo").returncode == 2
    added = run("protected", "add", str(portrait), "--name", "Grace")
    assert added.returncode == 0, added.stderr
    person = added.stdout.split()[1]
    assert person in run("protected", "list").stdout
    assert run("protected", "remove", person).returncode == 0
