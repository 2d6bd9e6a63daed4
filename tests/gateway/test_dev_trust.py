"""Trust in the development root is loud: warned about at start, shown by /healthz, named in every result it made
"trusted"; and an operator signing chain turns it off. Real gateways over real HTTP, real c2pa-rs signatures."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from gateway.core.settings import Settings
from gateway.media import encode_mp4
from gateway.provenance import GenerationClaim, build_manifest, content_id_binding_value, ensure_dev_ca, sign_asset

KEY = "hm-trust-key"


def hallmark(*args: str, data_dir: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=240, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def video() -> bytes:
    t = np.arange(12)[:, None, None]
    x = np.arange(128)[None, None, :]
    y = np.arange(128)[None, :, None]
    frames = np.stack(np.broadcast_arrays((x * 2 + t * 7) % 256, (y * 3 + 0 * x) % 256, (x + y + t) % 256), -1)
    return encode_mp4(frames.astype(np.uint8), 12.0)


def signed_by(keys_dir: Path, video: bytes, organization: str) -> bytes:
    """``video`` signed with the CA in ``keys_dir`` (made there when missing)."""
    claim = GenerationClaim(content_id=0x0F1E2D3C4B5A6978, video_id="video_trust", model="hallmark-dit-tiny",
                            model_version="0.1.0", seed=1, policy="default@2026.11", decision_id="dec_trust",
                            prompt_sha256=hashlib.sha256(b"a prompt").hexdigest(),
                            created_at=dt.datetime(2026, 11, 25, 12, tzinfo=dt.timezone.utc), tenant="tenant-t",
                            watermark_alg="com.hallmark.watermark.v1",
                            watermark_value=content_id_binding_value(0x0F1E2D3C4B5A6978), software_version="0.1.0")
    return sign_asset(video, "video/mp4", build_manifest(claim), ensure_dev_ca(keys_dir, organization=organization))


def c2pa_result(base_url: str, data: bytes, key: str = KEY) -> dict:
    response = httpx.post(f"{base_url}/v1/content_provenance_checks", headers={"Authorization": f"Bearer {key}"},
                          files={"file": ("v.mp4", data, "video/mp4")}, timeout=120)
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert result["type"] == "c2pa"
    return result


def trust_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "HALLMARK_TRUST_DEV_ROOT" in r.getMessage()]


def test_healthz_says_the_dev_root_is_trusted(gateway):
    response = httpx.get(f"{gateway.base_url}/healthz")
    assert response.json() == {"status": "ok", "trust_dev_root": True}


def test_a_check_names_the_development_root_as_what_made_it_trusted(gateway, completed_video):
    _, mp4 = completed_video
    result = c2pa_result(gateway.base_url, mp4, key=gateway.key_a)
    assert result["validation_state"] == "trusted"
    assert result["trust"] == "development root"


def test_hallmark_verify_labels_dev_root_trust(gateway, completed_video, tmp_path):
    _, mp4 = completed_video
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4)
    human = hallmark("verify", str(path), data_dir=gateway.data_dir)
    assert human.returncode == 0, human.stdout + human.stderr
    assert "C2PA credentials: trusted (development root)" in human.stdout

    off = hallmark("verify", str(path), "--json", data_dir=gateway.data_dir, env={"HALLMARK_TRUST_DEV_ROOT": "false"})
    c2pa = json.loads(off.stdout)["results"][0]
    assert c2pa["validation_state"] == "valid" and c2pa["trust"] is None


def test_with_trust_anchors_too_each_result_names_its_own_root(start_gateway, tmp_path, video, caplog):
    """Dev root and an operator's anchors side by side: the label follows the root a chain really ends at."""
    studio = tmp_path / "studio-ca"
    studio_signed = signed_by(studio, video, "Example Studio")
    settings = Settings(data_dir=tmp_path / "data", api_keys=f"{KEY}:tenant-t", trust_anchors=studio / "dev-root-ca.pem")
    with caplog.at_level(logging.WARNING), start_gateway(settings) as base_url:
        warnings = trust_warnings(caplog)
        assert len(warnings) == 1 and str(settings.keys_dir) in warnings[0]
        assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok", "trust_dev_root": True}

        own = signed_by(settings.keys_dir, video, "Hallmark Dev")  # the CA this gateway made at start
        result = c2pa_result(base_url, own)
        assert result["validation_state"] == "trusted" and result["trust"] == "development root"
        result = c2pa_result(base_url, studio_signed)
        assert result["validation_state"] == "trusted" and result["trust"] == "trust anchors"


def test_an_operator_signing_chain_turns_dev_root_trust_off(start_gateway, tmp_path, video, completed_video, caplog):
    studio = tmp_path / "studio-ca"
    studio_signed = signed_by(studio, video, "Example Studio")
    _, dev_signed = completed_video  # signed under another gateway's development root
    settings = Settings(data_dir=tmp_path / "data", api_keys=f"{KEY}:tenant-t", trust_dev_root=True,
                        signing_cert_chain=studio / "dev-signer.pem", signing_key=studio / "dev-signer.key",
                        trust_anchors=studio / "dev-root-ca.pem")
    with caplog.at_level(logging.WARNING), start_gateway(settings) as base_url:
        assert trust_warnings(caplog) == []
        assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok", "trust_dev_root": False}

        result = c2pa_result(base_url, studio_signed)
        assert result["validation_state"] == "trusted" and result["trust"] == "trust anchors"
        result = c2pa_result(base_url, dev_signed)
        assert result["validation_state"] == "valid" and result["trust"] is None
        assert "signingCredential.untrusted" in result["validation_codes"]
    # Even an old development CA left in the data directory is no anchor.
    ensure_dev_ca(settings.keys_dir)
    with start_gateway(settings) as base_url:
        result = c2pa_result(base_url, signed_by(settings.keys_dir, video, "Hallmark Dev"))
        assert result["validation_state"] == "valid" and result["trust"] is None
