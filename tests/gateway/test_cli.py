"""The hallmark CLI: verify a file the API produced; generate offline; keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def hallmark(*args: str, data_dir: Path, timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_verify_reports_trusted_and_content_id(gateway, completed_video, tmp_path):
    video, mp4 = completed_video
    path = tmp_path / "downloaded.mp4"
    path.write_bytes(mp4)
    human = hallmark("verify", str(path), data_dir=gateway.data_dir)
    assert human.returncode == 0, human.stdout + human.stderr
    assert "trusted" in human.stdout and video["content_id"] in human.stdout
    machine = hallmark("verify", str(path), "--json", data_dir=gateway.data_dir)
    body = json.loads(machine.stdout)
    assert body["generated_by_this_gateway"] is True
    assert body["results"][0]["validation_state"] == "trusted"
    assert body["results"][1]["content_id"] == video["content_id"]
    assert "Verdict: generated here" in human.stdout
    assert body["verdict"]["content_id"] == video["content_id"] and body["verdict"]["confidence"] >= 0.999


def test_dev_root_is_trusted_only_in_dev_mode(gateway, completed_video, tmp_path):
    _, mp4 = completed_video
    path = tmp_path / "downloaded.mp4"
    path.write_bytes(mp4)
    result = hallmark("verify", str(path), "--json", data_dir=gateway.data_dir, env={"HALLMARK_DEV_MODE": "false"})
    c2pa = json.loads(result.stdout)["results"][0]
    assert c2pa["validation_state"] == "valid"
    assert "signingCredential.untrusted" in c2pa["validation_codes"]
    # an untrusted signer still counts, less, because the registry holds this very manifest
    assert json.loads(result.stdout)["verdict"]["evidence"]["c2pa"] == 0.99


def test_verify_unknown_file_exits_nonzero(gateway, tmp_path):
    path = tmp_path / "note.txt"
    path.write_text("not media")
    result = hallmark("verify", str(path), data_dir=gateway.data_dir)
    assert result.returncode == 2
    assert "not a supported video or image" in result.stderr


def test_generate_offline_then_verify(tmp_path):
    data_dir = tmp_path / "data"
    out = tmp_path / "clip.mp4"
    made = hallmark("generate", "a white square moving down on a blue background", "-o", str(out),
                    "--seconds", "1", "--size", "128x128", "--seed", "7", data_dir=data_dir)
    assert made.returncode == 0, made.stdout + made.stderr
    assert out.stat().st_size > 1000
    content_id = made.stdout.split("content_id=")[1].split()[0]
    checked = hallmark("verify", str(out), "--json", data_dir=data_dir)
    body = json.loads(checked.stdout)
    assert body["results"][0]["validation_state"] == "trusted"
    assert body["results"][1]["content_id"] == content_id

    blocked = hallmark("generate", "a graphic video of a man being beheaded, blood and gore everywhere",
                       "-o", str(tmp_path / "no.mp4"), data_dir=data_dir)
    assert blocked.returncode == 2 and "blocked" in blocked.stderr
    assert not (tmp_path / "no.mp4").exists()


def test_keys_init_and_show(tmp_path):
    data_dir = tmp_path / "data"
    init = hallmark("keys", "init", data_dir=data_dir)
    assert init.returncode == 0, init.stderr
    assert (data_dir / "keys").is_dir()
    shown = hallmark("keys", "show", data_dir=data_dir)
    assert shown.returncode == 0
    assert "Signing certificate" in shown.stdout
