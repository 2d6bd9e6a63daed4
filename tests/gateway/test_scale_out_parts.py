"""The scale-out parts one at a time: the S3 asset store against a real S3 endpoint (moto's server), a KMS-style
external signer (HALLMARK_SIGNER), /metrics, and the schema check a server makes at start."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import textwrap

import boto3
import numpy as np
import pytest

from gateway.core.settings import Settings
from gateway.media import encode_mp4
from gateway.provenance import (
    GenerationClaim,
    build_manifest,
    content_id_binding_value,
    ensure_dev_ca,
    load_external_signer,
    read_provenance,
    sign_asset,
)
from gateway.store.assets import S3AssetStore, asset_store_for


@pytest.fixture
def s3_store(s3_server, tmp_path) -> S3AssetStore:
    env = s3_server.env()
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_DEFAULT_REGION"])
    return S3AssetStore(f"s3://{s3_server.bucket}/{tmp_path.name}", client=client)


def test_s3_asset_store_round_trip(s3_store):
    s3_store.check()
    data = os.urandom(3 * 1024 * 1024)
    assert not s3_store.exists("video_1.mp4")
    s3_store.put("video_1.mp4", data)
    assert s3_store.exists("video_1.mp4")
    assert s3_store.get("video_1.mp4") == data
    assert b"".join(s3_store.stream("video_1.mp4")) == data  # downloads are served in pieces
    s3_store.delete("video_1.mp4")
    s3_store.delete("video_1.mp4")  # deleting what is gone is fine, as with local files
    assert not s3_store.exists("video_1.mp4")
    with pytest.raises(FileNotFoundError):
        s3_store.get("video_1.mp4")
    with pytest.raises(ValueError):
        s3_store.put("../escape", b"x")


def test_storage_url_picks_the_store(tmp_path, s3_server, monkeypatch):
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    assert asset_store_for("", tmp_path / "media").root == tmp_path / "media"
    assert asset_store_for(str(tmp_path / "elsewhere"), tmp_path / "media").root == tmp_path / "elsewhere"
    store = asset_store_for(f"s3://{s3_server.bucket}/p", tmp_path / "media")
    assert isinstance(store, S3AssetStore) and store.prefix == "p"
    store.put("a.jpg", b"jpeg")  # boto3 found the endpoint and credentials in the standard AWS settings
    assert store.get("a.jpg") == b"jpeg"
    with pytest.raises(ValueError):
        asset_store_for("ftp://host/x", tmp_path)


KMS_MODULE = textwrap.dedent('''
    """A stand-in for a KMS client: the key never leaves this module; the gateway gets only a signing function."""
    import os
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    def signer():
        key = serialization.load_pem_private_key(open(os.environ["FAKE_KMS_KEY"], "rb").read(), password=None)
        return lambda data: key.sign(data, ec.ECDSA(hashes.SHA256()))
''')


def test_external_signer_signs_trusted_files(tmp_path, monkeypatch):
    identity = tmp_path / "identity"
    ensure_dev_ca(identity, organization="KMS Test")
    (tmp_path / "fake_kms.py").write_text(KMS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("FAKE_KMS_KEY", str(identity / "dev-signer.key"))
    material = load_external_signer(identity / "dev-signer.pem", "fake_kms:signer")
    assert material.private_key_pem == b"" and material.alg == "es256"

    t = np.arange(8)[:, None, None]
    x = np.arange(128)[None, None, :]
    y = np.arange(128)[None, :, None]
    frames = np.stack(np.broadcast_arrays((x * 2 + t * 7) % 256, (y * 3 + 0 * x) % 256, (x + y + t) % 256), -1)
    video = encode_mp4(frames.astype(np.uint8), 8.0)
    claim = GenerationClaim(content_id=0x0102030405060708, video_id="video_kms", model="m", model_version="1",
                            seed=1, policy="default@1", decision_id="dec_kms",
                            prompt_sha256=hashlib.sha256(b"p").hexdigest(),
                            created_at=dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc), tenant="t",
                            watermark_alg="com.hallmark.watermark.v1",
                            watermark_value=content_id_binding_value(0x0102030405060708), software_version="0.1.0")
    signed = sign_asset(video, "video/mp4", build_manifest(claim), material)
    report = read_provenance(signed, "video/mp4", trust_anchors_pem=(identity / "dev-root-ca.pem").read_text())
    assert report.state == "trusted", report


def test_bad_external_signer_is_refused_with_its_setting(tmp_path):
    from gateway.provenance import ProvenanceKeyError

    identity = tmp_path / "identity"
    ensure_dev_ca(identity)
    with pytest.raises(ProvenanceKeyError, match="HALLMARK_SIGNER"):
        load_external_signer(identity / "dev-signer.pem", "no_such_module_here:signer")


def test_metrics(gateway, completed_video):
    with gateway.client(gateway.key_a) as http:
        assert http.get("/metrics").status_code == 403
    with gateway.client(gateway.key_admin) as http:
        answer = http.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.headers.get("x-request-id")
    text = answer.text
    model = completed_video[0]["model"]
    assert f'hallmark_jobs{{model="{model}",status="completed"}}' in text
    assert f'hallmark_job_duration_seconds_count{{model="{model}",status="completed"}}' in text
    assert 'hallmark_http_requests_total{method="GET",route="/v1/videos/{video_id}",status="200"}' in text
    assert "hallmark_audit_appends_total" in text


def test_a_database_behind_the_code_is_refused_at_start(tmp_path):
    """`hallmark serve` on a database at an older revision: the reason and the command, exit 2, no traceback."""
    from alembic import command
    from sqlalchemy import create_engine

    from gateway.store import schema

    data = tmp_path / "data"
    data.mkdir()
    engine = create_engine(f"sqlite:///{data / 'hallmark.db'}")
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), schema.RELEASE1)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMARK_")}
    env["HALLMARK_DATA_DIR"] = str(data)
    result = subprocess.run([sys.executable, "-m", "gateway", "serve", "--port", "1"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"revision {schema.RELEASE1}" in result.stderr and "hallmark db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
    assert Settings(data_dir=data).distributed is False


def test_s3_storage_with_presigned_downloads(tmp_path, s3_server, monkeypatch, start_gateway):
    """Media in S3; a content download answers 307 to a presigned URL and the SDK follows it to the signed file."""
    import httpx
    import openai

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    settings = Settings(data_dir=tmp_path / "data", api_keys="hm-s3-key:tenant-s3", deployment="single",
                        storage_url=f"s3://{s3_server.bucket}/{tmp_path.name}", storage_presign_seconds=120,
                        default_size="128x128", keep_check_uploads=True)
    with start_gateway(settings) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="hm-s3-key", max_retries=2)
        created = client.videos.create(prompt="a red circle moving right on a black background", size="128x128",
                                       seconds="2")
        video = client.videos.poll(created.id, poll_interval_ms=200)
        assert video.status == "completed", video.error
        # The worker's entries name the request that made the job (x-request-id), like the API's own.
        from gateway.audit import AuditLog
        from gateway.store.db import Database

        db = Database(settings.resolved_database_url)
        trail = {e.event: e.data.get("request_id") for e in AuditLog(db).entries(limit=1000)
                 if e.object_id == video.id}
        db.dispose()
        assert created._request_id and trail["video.queued"] == trail["video.completed"] == created._request_id
        direct = httpx.get(f"{base}/v1/videos/{video.id}/content", headers={"Authorization": "Bearer hm-s3-key"})
        assert direct.status_code == 307
        assert direct.headers["location"].startswith(f"{s3_server.endpoint_url}/{s3_server.bucket}/")
        downloaded = client.videos.download_content(video.id).read()
        stored = boto3.client("s3", endpoint_url=s3_server.endpoint_url).get_object(
            Bucket=s3_server.bucket, Key=f"{tmp_path.name}/{video.id}.mp4")["Body"].read()
        assert downloaded == stored and len(stored) > 1000
        assert not (tmp_path / "data" / "media" / f"{video.id}.mp4").exists()  # nothing under the local media dir
        with open(tmp_path / "out.mp4", "wb") as handle:
            handle.write(downloaded)
        with open(tmp_path / "out.mp4", "rb") as handle:
            check = client.content_provenance_checks.create(file=handle)
        assert check.results[0].validation_state == "trusted"
        # A kept check upload lands beside the media in the bucket, where every node's checks go.
        kept = boto3.client("s3", endpoint_url=s3_server.endpoint_url).get_object(
            Bucket=s3_server.bucket, Key=f"{tmp_path.name}/checks/{check.id}.mp4")["Body"].read()
        assert kept == downloaded and not (tmp_path / "data" / "checks").exists()
