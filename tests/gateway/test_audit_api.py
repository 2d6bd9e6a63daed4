"""/v1/audit over HTTP (tenant scoping, proofs that verify), and the ``hallmark audit`` commands."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from gateway.audit import AuditEvent, VerifierKey, merkle

KEYS = "ka:tenant-a,kb:tenant-b,kaud:compliance:auditor"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from gateway.api import create_app
    from gateway.core.settings import Settings

    data_dir = tmp_path_factory.mktemp("audit-api")
    settings = Settings(data_dir=data_dir, api_keys=KEYS, audit_checkpoint_every=0)
    app = create_app(settings, start_worker=False, announce=lambda _m: None)
    with TestClient(app) as client:
        rt = app.state.runtime
        for n in range(6):
            tenant = "tenant-a" if n % 2 else "tenant-b"
            rt.audit.append(AuditEvent(event="policy.decision", actor="key:x", tenant=tenant,
                                       object_id=f"dec_{n}", data={"action": "block" if n == 3 else "allow",
                                                                   "flagged": ["violence"] if n == 3 else [],
                                                                   "policy": "default@1"}))
        rt.audit.append(AuditEvent(event="video.generated", actor="worker", tenant="tenant-a", object_id="video_1",
                                   data={"signer": "ab12", "watermark_alg": "wm-v1", "model": "m"}))
        yield client, rt, data_dir


def get(client, path, key, **params):
    return client.get(path, params=params, headers={"Authorization": f"Bearer {key}"})


def test_checkpoint_is_signed_by_the_published_key(api):
    client, rt, _ = api
    body = get(client, "/v1/audit/checkpoint", "ka").json()
    cp = VerifierKey.parse(body["public_key"]).open(body["note"])
    assert cp.tree_size == body["tree_size"] == rt.audit.size()
    assert base64.b64decode(body["root_hash"]) == cp.root_hash


def test_entries_are_tenant_scoped_and_auditor_sees_all(api):
    client, rt, _ = api
    mine = get(client, "/v1/audit/entries", "ka").json()
    assert mine["data"] and {e["tenant"] for e in mine["data"]} == {"tenant-a"}
    everything = get(client, "/v1/audit/entries", "kaud", limit=1000).json()
    assert len(everything["data"]) == rt.audit.count()
    assert {e["tenant"] for e in everything["data"]} >= {"tenant-a", "tenant-b"}
    refused = get(client, "/v1/audit/entries", "ka", tenant="tenant-b")
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "tenant"
    only_b = get(client, "/v1/audit/entries", "kaud", tenant="tenant-b", type="policy.decision").json()
    assert len(only_b["data"]) == 3


def test_entries_paginate(api):
    client, _, _ = api
    first = get(client, "/v1/audit/entries", "kaud", limit=2).json()
    assert first["has_more"] and len(first["data"]) == 2
    second = get(client, "/v1/audit/entries", "kaud", limit=2, after=first["last_id"]).json()
    assert second["data"][0]["index"] == first["last_id"] + 1
    bad = get(client, "/v1/audit/entries", "kaud", **{"from": "yesterday"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "from"
    assert get(client, "/v1/audit/entries", "kaud", **{"from": "2999-01-01"}).json()["data"] == []


def test_entry_with_inclusion_proof_verifies(api):
    client, rt, _ = api
    entries = get(client, "/v1/audit/entries", "ka").json()["data"]
    index = entries[0]["index"]
    body = get(client, f"/v1/audit/entries/{index}", "ka").json()
    cp = rt.audit.signer.verifier.open(body["checkpoint"])
    proof = [base64.b64decode(h) for h in body["inclusion_proof"]["hashes"]]
    merkle.verify_inclusion(index, cp.tree_size, merkle.leaf_hash(body["entry"].encode()), proof, cp.root_hash)
    other = get(client, f"/v1/audit/entries/{index}", "kb")
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    assert get(client, "/v1/audit/entries/999999", "kaud").status_code == 404


def test_consistency_proof_verifies(api):
    client, rt, _ = api
    body = get(client, "/v1/audit/consistency", "ka", first=3).json()
    cp = rt.audit.signer.verifier.open(body["checkpoint"])
    merkle.verify_consistency(3, cp.tree_size, rt.audit.root(3), cp.root_hash,
                              [base64.b64decode(h) for h in body["hashes"]])
    bad = get(client, "/v1/audit/consistency", "ka", first=5, second=2)
    assert bad.status_code == 400


def hallmark(*args: str, data_dir) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway", "audit", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HALLMARK_API_KEYS": KEYS})


def test_cli_verify_export_offline_and_report(api, tmp_path):
    _, rt, data_dir = api
    verified = hallmark("verify", "--json", data_dir=data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True
    vkey = str(rt.audit.signer.verifier)

    full = tmp_path / "all.jsonl"
    assert hallmark("export", "-o", str(full), data_dir=data_dir).returncode == 0
    ok = hallmark("verify", "--export", str(full), "--public-key", vkey, data_dir=data_dir)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = full.read_text().splitlines()
    lines[3] = lines[3].replace("allow", "block") if "allow" in lines[3] else lines[3].replace("tenant", "tenanT")
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    bad = hallmark("verify", "--export", str(tmp_path / "bad.jsonl"), "--public-key", vkey, data_dir=data_dir)
    assert bad.returncode == 1 and "root" in bad.stdout

    partial = tmp_path / "part.jsonl"
    assert hallmark("export", "--from", "2000-01-01", "-o", str(partial), data_dir=data_dir).returncode == 0
    assert '"inclusion"' in partial.read_text()
    other_key = "other.example/log+00000000+" + base64.b64encode(b"\x01" + b"\x02" * 32).decode()
    from gateway.audit.export import verify_export

    assert verify_export(partial.read_text().splitlines(), VerifierKey.parse(vkey)).ok
    with pytest.raises(Exception):
        VerifierKey.parse(other_key)  # its key id does not match: refused before any note is read

    csv_out = tmp_path / "e.csv"
    assert hallmark("export", "--format", "csv", "-o", str(csv_out), data_dir=data_dir).returncode == 0
    assert csv_out.read_text().startswith("index,time,tenant")

    html_out, json_out = tmp_path / "r.html", tmp_path / "r.json"
    made = hallmark("report", "--html", str(html_out), "--json", str(json_out), data_dir=data_dir)
    assert made.returncode == 0, made.stderr
    report = json.loads(json_out.read_text())
    assert report["decisions"]["by_action"] == {"allow": 5, "block": 1}
    assert report["decisions"]["by_category"] == {"violence": 1}
    assert report["tenants"]["tenant-a"]["generated"] == 1
    assert report["signing_keys"][0]["fingerprint"] == "ab12"
    page = html_out.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "<script" not in page
    assert "src=" not in page and "href=" not in page  # self-contained: nothing to fetch
