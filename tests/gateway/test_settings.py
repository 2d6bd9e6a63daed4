"""Settings parse API keys → tenants and refuse malformed values with a clear message."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.core.settings import Settings, parse_api_keys


def test_parse_pairs_and_roles():
    grants = parse_api_keys("k1:acme, k2:globex:auditor")
    assert [(g.key, g.tenant, g.role) for g in grants] == [("k1", "acme", "user"), ("k2", "globex", "auditor")]


def test_parse_json():
    assert parse_api_keys('{"k": "acme"}')[0].tenant == "acme"


@pytest.mark.parametrize("raw", ["justakey", "k:t:superuser", "{not json"])
def test_bad_keys_rejected(raw, monkeypatch):
    monkeypatch.setenv("HALLMARK_API_KEYS", raw)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert "HALLMARK_API_KEYS" in str(info.value)


def test_env_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("HALLMARK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HALLMARK_MAX_UPLOAD_BYTES", "1234")
    settings = Settings()
    assert settings.data_dir == tmp_path and settings.max_upload_bytes == 1234
    assert settings.resolved_database_url.endswith("hallmark.db")
