"""Per-tenant policy packs, reloading without a restart, and the audit of every policy and signing-key change."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
import yaml

from gateway.audit.report import build_report, render_html
from gateway.bootstrap import Runtime
from gateway.core.settings import Settings, parse_tenant_policies
from gateway.provenance import ensure_dev_ca
from policies import load_pack

ADMIN, USER_A, USER_B = "hm-pol-admin", "hm-pol-a", "hm-pol-b"
KEYS = f"{ADMIN}:ops:admin,{USER_A}:tenant-a,{USER_B}:tenant-b"


def write_pack(path, *, version: str, deny: list[str] | None = None, pack_id: str = "tenant-b-pack") -> None:
    data = load_pack("default").to_dict()
    data.update(id=pack_id, version=version, deny_list=[*data["deny_list"], *(deny or [])])
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


def events(rt: Runtime, name: str) -> list:
    return rt.audit.entries(event=name)


def test_tenant_policies_setting_is_validated():
    assert parse_tenant_policies(" a:strict , b:/etc/p.yaml") == {"a": "strict", "b": "/etc/p.yaml"}
    for bad in ("a", "a:", ":strict", "a:strict,a:default"):
        with pytest.raises(ValueError, match="HALLMARK_TENANT_POLICIES"):
            parse_tenant_policies(bad)


def test_activation_is_audited_once_per_change(tmp_path):
    pack = tmp_path / "b.yaml"
    write_pack(pack, version="1.0.0")
    settings = Settings(data_dir=tmp_path / "data", tenant_policies=f"tenant-b:{pack},tenant-c:strict")
    rt = Runtime(settings)
    try:
        assert rt.policies.pack("tenant-b").ref == "tenant-b-pack@1.0.0"
        assert rt.policies.pack("tenant-c").id == "hallmark-strict"
        assert rt.policies.pack("anyone-else").id == "hallmark-default"
        first = events(rt, "policy.activated")
        assert sorted(e.data["scope"] for e in first) == ["*", "tenant-b", "tenant-c"]
        assert all(e.data["reason"] == "start" and e.data["previous"] is None for e in first)
    finally:
        rt.close()

    rt = Runtime(settings)  # same packs: a restart records nothing new
    try:
        _ = rt.policies
        assert len(events(rt, "policy.activated")) == 3
    finally:
        rt.close()

    write_pack(pack, version="1.0.1", deny=["purple elephant"])  # edited while the gateway was down
    rt = Runtime(settings)
    try:
        _ = rt.policies
        changed = events(rt, "policy.activated")[3:]
        assert [e.data["scope"] for e in changed] == ["tenant-b"]
        assert changed[0].data["previous"]["policy"] == "tenant-b-pack@1.0.0"
        assert changed[0].data["policy"] == "tenant-b-pack@1.0.1"
        assert changed[0].data["digest"] != changed[0].data["previous"]["digest"]
        assert rt.audit.verify().ok
        report = build_report(rt.audit)
        assert [(c["scope"], c["policy"], c["previous"]) for c in report["policy_changes"]][-1] == (
            "tenant-b", "tenant-b-pack@1.0.1", "tenant-b-pack@1.0.0")
        assert "tenant-b-pack@1.0.1" in render_html(report)
    finally:
        rt.close()


def test_signing_certificate_changes_are_audited(tmp_path):
    data = tmp_path / "data"
    rt = Runtime(Settings(data_dir=data))
    try:
        _ = rt.signing
        [first] = events(rt, "keys.signing_certificate")
        assert first.data["source"] == "development CA" and first.data["previous_sha256_fingerprint"] is None
    finally:
        rt.close()
    rt = Runtime(Settings(data_dir=data))  # same certificate: nothing new
    try:
        _ = rt.signing
        assert len(events(rt, "keys.signing_certificate")) == 1
    finally:
        rt.close()
    other = tmp_path / "operator-keys"
    ensure_dev_ca(other, organization="Operator Ltd")
    rt = Runtime(Settings(data_dir=data, signing_cert_chain=other / "dev-signer.pem",
                          signing_key=other / "dev-signer.key"))
    try:
        _ = rt.signing
        changes = events(rt, "keys.signing_certificate")
        assert len(changes) == 2
        assert changes[1].data["source"] == "operator"
        assert changes[1].data["previous_sha256_fingerprint"] == first.data["sha256_fingerprint"]
        assert "Operator Ltd" in changes[1].data["subject"]
    finally:
        rt.close()


def _moderate(base: str, key: str, text: str) -> dict:
    answer = httpx.post(f"{base}/v1/moderations", json={"input": text}, headers={"Authorization": f"Bearer {key}"},
                        timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()["results"][0]


def test_reload_over_http_and_cli_is_audited_and_keeps_the_previous_pack_on_error(tmp_path, start_gateway):
    pack = tmp_path / "b.yaml"
    write_pack(pack, version="1.0.0")
    settings = Settings(data_dir=tmp_path / "data", api_keys=KEYS, tenant_policies=f"tenant-b:{pack}")
    with start_gateway(settings) as base:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        listed = httpx.get(f"{base}/v1/policies", headers=admin).json()["data"]
        assert {p["scope"]: p["policy"] for p in listed}["tenant-b"] == "tenant-b-pack@1.0.0"
        assert httpx.get(f"{base}/v1/policies", headers={"Authorization": f"Bearer {USER_A}"}).status_code == 403
        denied = httpx.post(f"{base}/v1/policies/reload", json={}, headers={"Authorization": f"Bearer {USER_B}"})
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "insufficient_role"

        prompt = "a purple elephant dancing in a field"
        assert _moderate(base, USER_B, prompt)["policy"] == "tenant-b-pack@1.0.0"
        assert _moderate(base, USER_B, prompt)["action"] == "allow"

        write_pack(pack, version="1.1.0", deny=["purple elephant"])
        reloaded = httpx.post(f"{base}/v1/policies/reload", json={"scope": "tenant-b"}, headers=admin)
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["data"][0]["policy"] == "tenant-b-pack@1.1.0"
        after = _moderate(base, USER_B, prompt)
        assert after["policy"] == "tenant-b-pack@1.1.0" and after["action"] == "block"
        other = _moderate(base, USER_A, prompt)  # tenant-a keeps the gateway-wide pack
        assert other["policy"].startswith("hallmark-default@") and other["action"] == "allow"

        pack.write_text("id: tenant-b-pack\nversion: 2\nthresholds: {sexual: {review: 2}}\n")
        refused = httpx.post(f"{base}/v1/policies/reload", json={}, headers=admin)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "invalid_policy_pack" and "stays active" in error["message"]
        assert error["errors"] and any("version" in e for e in error["errors"])
        assert _moderate(base, USER_B, prompt)["policy"] == "tenant-b-pack@1.1.0"  # previous pack still decides

        unknown = httpx.post(f"{base}/v1/policies/reload", json={"scope": "nobody"}, headers=admin)
        assert unknown.status_code == 404

        write_pack(pack, version="1.2.0", deny=["purple elephant"])
        env = {**os.environ, "HALLMARK_URL": base, "HALLMARK_ADMIN_KEY": ADMIN}
        cli = subprocess.run([sys.executable, "-m", "gateway", "policy", "reload"], capture_output=True, text=True,
                             env=env, timeout=120)
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert "tenant-b-pack@1.2.0" in cli.stdout
        bad = subprocess.run([sys.executable, "-m", "gateway", "policy", "reload", "--api-key", USER_A],
                             capture_output=True, text=True, env=env, timeout=120)
        assert bad.returncode == 2 and "admin" in bad.stderr

        entries = httpx.get(f"{base}/v1/audit/entries", params={"type": "policy.activated", "limit": 100},
                            headers=admin).json()["data"]
        changes = [e for e in entries if e["data"]["scope"] == "tenant-b"]
        assert [(c["data"]["policy"], c["data"]["reason"]) for c in changes] == [
            ("tenant-b-pack@1.0.0", "start"), ("tenant-b-pack@1.1.0", "reload"), ("tenant-b-pack@1.2.0", "reload")]
        assert changes[1]["actor"] == changes[2]["actor"] != "system"
        assert changes[1]["data"]["previous"]["policy"] == "tenant-b-pack@1.0.0"
        failed = httpx.get(f"{base}/v1/audit/entries", params={"type": "policy.reload_failed"},
                           headers=admin).json()["data"]
        assert len(failed) == 1 and failed[0]["data"]["errors"]


def test_policy_cli_check_and_list(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    write_pack(good, version="3.0.0")
    bad.write_text("id: x\nversion: '1'\nthresholds: {nonsense: {review: 0.1}}\n")

    def run(*args, env=None):
        return subprocess.run([sys.executable, "-m", "gateway", "policy", *args], capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, timeout=120)

    ok = run("check", str(good))
    assert ok.returncode == 0 and "tenant-b-pack@3.0.0" in ok.stdout
    refused = run("check", str(bad))
    assert refused.returncode == 2 and "nonsense" in refused.stderr
    listed = run("list", "--data-dir", str(tmp_path / "data"), env={"HALLMARK_TENANT_POLICIES": f"tenant-z:{good}"})
    assert listed.returncode == 0, listed.stderr
    assert "tenant-z" in listed.stdout and "tenant-b-pack@3.0.0" in listed.stdout


def test_serve_refuses_an_invalid_pack(tmp_path):
    started = subprocess.run([sys.executable, "-m", "gateway", "serve", "--data-dir", str(tmp_path)],
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "HALLMARK_POLICY_PACK": str(tmp_path / "missing.yaml")})
    assert started.returncode == 2
    assert "policy pack file not found" in started.stderr and "Traceback" not in started.stderr
