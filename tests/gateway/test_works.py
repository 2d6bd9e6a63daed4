"""Registered works: admin-only management; reference images and outputs that match go to the policy."""

from __future__ import annotations

import io
import subprocess
import sys

import av
import numpy as np
from PIL import Image

from gateway.registry.fingerprint import phash_frames as fingerprint_frames
from gateway.registry.works import RegisteredWork, WorkMatcher


def _png(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def _first_frame(mp4: bytes) -> np.ndarray:
    with av.open(io.BytesIO(mp4)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def test_matcher_scores_same_high_and_strangers_zero():
    rng = np.random.default_rng(3)
    base = (rng.random((1, 64, 64, 3)) * 255).astype(np.uint8).repeat(4, axis=1).repeat(4, axis=2)
    other = (rng.random((1, 64, 64, 3)) * 255).astype(np.uint8).repeat(4, axis=1).repeat(4, axis=2)
    matcher = WorkMatcher([RegisteredWork(id="work_1", title="painting", fingerprints=tuple(fingerprint_frames(base)))])
    same = matcher.score(base[:, 8:, 8:])  # a small crop
    assert same.work_id == "work_1" and same.similarity >= 0.5
    assert matcher.score(other).similarity < 0.3
    assert WorkMatcher([]).score(base).work_id is None


def test_registered_work_blocks_reference_and_output(gateway, completed_video):
    video, mp4 = completed_video
    frame_png = _png(_first_frame(mp4))
    with gateway.client() as user:
        denied = user.post("/v1/registered_works", files={"file": ("w.png", frame_png, "image/png"),
                                                          "title": (None, "Red Circle")})
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "insufficient_role"
    with gateway.client(gateway.key_admin) as admin:
        created = admin.post("/v1/registered_works", files={"file": ("w.png", frame_png, "image/png"),
                                                            "title": (None, "Red Circle"), "owner": (None, "Studio")})
        assert created.status_code == 200, created.text
        work_id = created.json()["id"]
        try:
            assert work_id in [w["id"] for w in admin.get("/v1/registered_works").json()["data"]]
            with gateway.client() as user:
                # a reference image that is the registered work: the policy (ip → review) holds it for an operator
                held = user.post("/v1/videos", files={"prompt": (None, "a calm landscape"),
                                                      "input_reference": ("r.png", frame_png, "image/png")})
                assert held.status_code == 200, held.text
                assert held.json()["review"] == "pending"
                pending = admin.get("/v1/reviews").json()["data"]
                assert held.json()["id"] in [p["id"] for p in pending]
                rejected = admin.post(f"/v1/reviews/{held.json()['id']}/reject", json={"reason": "registered work"})
                assert rejected.json()["status"] == "failed"
                # the same prompt and seed regenerate the registered frames: the output is refused
                again = user.post("/v1/videos", files={"prompt": (None, video["prompt"]), "size": (None, "128x128"),
                                                       "seconds": (None, "2"), "seed": (None, "11")})
                assert again.status_code == 200, again.text
                done = gateway.wait_done(again.json()["id"])
                assert done["status"] == "failed" and done["error"]["code"] == "registered_work_match", done
        finally:
            assert admin.delete(f"/v1/registered_works/{work_id}").status_code == 200
        assert admin.delete(f"/v1/registered_works/{work_id}").status_code == 404
        bad = admin.post("/v1/registered_works", files={"file": ("w.txt", b"text", "text/plain"), "title": (None, "x")})
        assert bad.status_code == 415


def test_works_cli(tmp_path):
    image = tmp_path / "work.png"
    image.write_bytes(_png(np.full((160, 160, 3), 90, np.uint8)))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "gateway", "works", *args, "--data-dir", str(tmp_path / "d")],
                              capture_output=True, text=True, timeout=120)

    added = run("add", str(image), "--title", "Grey", "--owner", "Me")
    assert added.returncode == 0, added.stderr
    work_id = added.stdout.split()[1]
    assert work_id in run("list").stdout
    assert run("remove", work_id).returncode == 0
    assert run("remove", work_id).returncode == 2
