"""Gateway configuration, read from the environment (prefix ``HALLMARK_``) and an optional ``.env`` file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["user", "auditor", "admin"]


@dataclass(frozen=True)
class ApiKeyGrant:
    """What one API key may do: which tenant it acts for and with which role."""

    key: str
    tenant: str
    role: Role = "user"


def parse_api_keys(raw: str) -> list[ApiKeyGrant]:
    """Parse ``key:tenant[:role]`` pairs separated by commas, or a JSON object ``{key: tenant}``."""
    raw = raw.strip()
    if not raw:
        return []
    grants: list[ApiKeyGrant] = []
    if raw.startswith("{"):
        try:
            mapping = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"HALLMARK_API_KEYS is not valid JSON: {exc}") from exc
        for key, tenant in mapping.items():
            grants.append(ApiKeyGrant(key=str(key), tenant=str(tenant)))
        return grants
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(
                f"HALLMARK_API_KEYS entry {item!r} is not 'key:tenant' or 'key:tenant:role'"
            )
        role = parts[2] if len(parts) == 3 else "user"
        if role not in ("user", "auditor", "admin"):
            raise ValueError(f"HALLMARK_API_KEYS entry {item!r}: role must be user, auditor or admin")
        grants.append(ApiKeyGrant(key=parts[0], tenant=parts[1], role=role))  # type: ignore[arg-type]
    return grants


def parse_tenant_policies(raw: str) -> dict[str, str]:
    """Parse ``tenant:pack`` pairs separated by commas; a pack is a shipped name or a YAML path."""
    out: dict[str, str] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        tenant, sep, pack = item.partition(":")
        if not sep or not tenant.strip() or not pack.strip():
            raise ValueError(f"HALLMARK_TENANT_POLICIES entry {item!r} is not 'tenant:pack' (a pack name or a path)")
        if tenant.strip() in out:
            raise ValueError(f"HALLMARK_TENANT_POLICIES names tenant {tenant.strip()!r} twice")
        out[tenant.strip()] = pack.strip()
    return out


class Settings(BaseSettings):
    """Every setting has an environment variable ``HALLMARK_<NAME>``; see the README's table."""

    model_config = SettingsConfigDict(env_prefix="HALLMARK_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("hallmark-data"), description="Root folder for the database, videos and keys")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite under data_dir")
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: str = Field(default="", description="key:tenant[:role],... ; empty = a development key made on first start")
    signing_cert_chain: Path | None = Field(default=None, description="PEM chain, end-entity first; empty = dev CA")
    signing_key: Path | None = Field(default=None, description="PEM private key of the signing certificate")
    trust_anchors: Path | None = Field(default=None, description="PEM file of trusted root certificates")
    # Dangerous outside a demo: anyone holding this data directory's development root can mint "trusted" credentials.
    # HALLMARK_DEV_MODE is the switch's former name, still read.
    trust_dev_root: bool = Field(default=True, validation_alias=AliasChoices(
        "HALLMARK_TRUST_DEV_ROOT", "HALLMARK_DEV_MODE", "trust_dev_root"),
        description="Trust the development root CA when verifying (off whenever an operator chain is configured)")
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_prompt_chars: int = Field(default=4000, gt=0)
    keep_check_uploads: bool = Field(default=False, description="Keep each checked upload under <data dir>/checks")
    workers: int = Field(default=1, ge=1, le=16)
    max_attempts: int = Field(default=2, ge=1, description="Runs of a job before an interrupted job is failed")
    policy_pack: str = Field(default="default", description="'default', 'strict' or a path to a YAML pack")
    tenant_policies: str = Field(default="", description="tenant:pack,... ; tenants not named use policy_pack")
    default_size: str = "256x256"
    default_seconds: int = Field(default=4, ge=1)
    mp4_crf: int = Field(default=18, ge=0, le=51)
    watermark_strength: float = Field(default=1.0, gt=0)
    generator_weights: Path | None = Field(default=None, description="Folder of the built-in model's weights")
    generator_backend: Literal["builtin", "diffusers"] = Field(default="builtin", description="Which model serves")
    diffusers_model_dir: Path | None = Field(default=None, description="Local diffusers pipeline folder")
    diffusers_device: str = Field(default="cpu", description="torch device for the diffusers backend, e.g. cuda")
    diffusers_dtype: str = Field(default="float32", description="float32, float16 or bfloat16")
    diffusers_fps: float = Field(default=16.0, gt=0)
    diffusers_steps: int = Field(default=30, ge=1, le=200)
    organization: str = Field(default="Hallmark Dev", description="Organisation named in the dev CA and labels")
    audit_origin: str = Field(default="hallmark.local/audit", pattern=r"^[^\s+]+$",
                              description="Origin line and key name of the audit log's signed checkpoints")
    audit_checkpoint_every: int = Field(default=1000, ge=0,
                                        description="Sign a checkpoint every N appended entries (0: only on request)")
    audit_retention_days: int = Field(default=184, ge=183,
                                      description="Audit entries younger than this are never pruned (≥ 6 months)")
    audit_prompts: Literal["hash", "encrypted"] = Field(
        default="hash", description="Prompts in the audit log: SHA-256 only, or also AES-GCM encrypted")
    prompt_retention_days: int = Field(default=30, ge=0,
                                       description="Prompts are removed from the jobs table this many days after the "
                                                   "job ends, and at once when the video is deleted (0: at once)")
    cors_origins: str = Field(default="", description="Comma-separated origins allowed by CORS; empty = CORS off")
    tsa_url: str | None = Field(default=None, description="RFC 3161 time-stamp authority used at signing")

    @field_validator("api_keys")
    @classmethod
    def _check_keys(cls, value: str) -> str:
        parse_api_keys(value)
        return value

    @field_validator("tenant_policies")
    @classmethod
    def _check_tenant_policies(cls, value: str) -> str:
        parse_tenant_policies(value)
        return value

    @cached_property
    def tenant_policy_sources(self) -> dict[str, str]:
        return parse_tenant_policies(self.tenant_policies)

    @cached_property
    def api_key_grants(self) -> list[ApiKeyGrant]:
        return parse_api_keys(self.api_keys)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hallmark.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.keys_dir, self.media_dir):
            path.mkdir(parents=True, exist_ok=True)
