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


@dataclass(frozen=True)
class Quota:
    """What one tenant may use (0: no limit)."""

    requests: str  # per API key, in the ``limits`` notation: "1200/minute"
    queued_jobs: int
    running_jobs: int
    daily_pixel_seconds: int  # seconds x width x height of the videos requested per UTC day


_QUOTA_KEYS = {"requests": "requests", "queued": "queued_jobs", "running": "running_jobs",
               "daily": "daily_pixel_seconds"}


@dataclass(frozen=True)
class ModelAlias:
    pattern: str  # an exact name, or a prefix ending in "*"
    target: str | None  # a model name; None: the served model

    def matches(self, name: str) -> bool:
        if self.pattern.endswith("*"):
            return name.startswith(self.pattern[:-1])
        return name == self.pattern


def parse_model_aliases(raw: str) -> list[ModelAlias]:
    """``pattern[=model],...``: ``sora-2-pro*=my-pro-model,sora-2*``. More specific entries go first: the first
    matching entry wins."""
    aliases: list[ModelAlias] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        pattern, sep, target = (part.strip() for part in item.partition("="))
        if not pattern or (sep and not target) or "*" in pattern[:-1]:
            raise ValueError(f"HALLMARK_MODEL_ALIASES entry {item!r} is not 'name', 'prefix*' or 'name=model'")
        aliases.append(ModelAlias(pattern=pattern, target=target or None))
    return aliases


def check_rate(value: str, *, where: str = "") -> str:
    """``value`` if it is a rate in the ``limits`` notation ("60/minute"), else a ValueError saying so."""
    from limits import parse

    try:
        parse(value)
    except ValueError as exc:
        raise ValueError(f"{where}{value!r} is not a rate such as 60/minute") from exc
    return value


def parse_tenant_quotas(raw: str) -> dict[str, dict[str, str | int]]:
    """``tenant:requests=60/minute;queued=5;running=1;daily=2000000000,other:...`` -> per-tenant overrides."""
    out: dict[str, dict[str, str | int]] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        tenant, sep, spec = item.partition(":")
        tenant = tenant.strip()
        if not sep or not tenant or not spec.strip():
            raise ValueError(f"HALLMARK_TENANT_QUOTAS entry {item!r} is not 'tenant:name=value;...'")
        fields: dict[str, str | int] = {}
        for part in spec.split(";"):
            name, eq, value = part.partition("=")
            name, value = name.strip(), value.strip()
            if not eq or name not in _QUOTA_KEYS:
                raise ValueError(f"HALLMARK_TENANT_QUOTAS entry {item!r}: {part.strip()!r} is not one of "
                                 f"{', '.join(k + '=' for k in _QUOTA_KEYS)}")
            if name == "requests":
                fields[_QUOTA_KEYS[name]] = check_rate(value, where=f"HALLMARK_TENANT_QUOTAS entry {item!r}: ")
            else:
                if not value.isdigit():
                    raise ValueError(f"HALLMARK_TENANT_QUOTAS entry {item!r}: {name} must be a whole number ≥ 0")
                fields[_QUOTA_KEYS[name]] = int(value)
        out[tenant] = fields
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
    keep_character_videos: bool = Field(default=False, description="Keep the video each character was registered "
                                        "from (media/); by default only its face embeddings are kept")
    workers: int = Field(default=1, ge=1, le=16)
    max_attempts: int = Field(default=2, ge=1, description="Runs of a job before an interrupted job is failed")
    policy_pack: str = Field(default="default", description="'default', 'strict' or a path to a YAML pack")
    tenant_policies: str = Field(default="", description="tenant:pack,... ; tenants not named use policy_pack")
    default_size: str = Field(default="256x256", description="Size when a request names none (a request for an "
                                                             "OpenAI model name gets OpenAI's 720x1280)")
    model_aliases: str = Field(default="sora-2-pro*,sora-2*",
                               description="Other model names requests may use: name, prefix* or name=model, "
                                           "comma-separated (no model: the served one)")
    review_timeout: int = Field(default=60, ge=0,
                                description="Seconds a job held for review waits for an operator before it fails "
                                            "with moderation_review_timeout (0: it waits until decided)")
    video_retention_hours: int = Field(default=0, ge=0,
                                       description="Hours a completed video's files stay downloadable (expires_at); "
                                                   "0: until deleted")
    remix_strength: float | None = Field(default=None, gt=0, le=1,
                                         description="How much of a remixed or edited source is re-noised (0-1; "
                                                     "empty: the model's default)")
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
    rate_limit: str = Field(default="1200/minute", description="Requests per API key (limits notation)")
    auth_failure_limit: str = Field(default="30/minute",
                                    description="Failed authentications per client address before 429")
    rate_limit_storage: str = Field(default="memory://",
                                    description="Where rate-limit counters live (limits storage URI, e.g. redis://)")
    max_queued_jobs: int = Field(default=100, ge=0, description="Queued jobs per tenant (0: no limit)")
    max_running_jobs: int = Field(default=0, ge=0, description="Running jobs per tenant (0: no limit)")
    daily_pixel_seconds: int = Field(default=10_000_000_000, ge=0,
                                     description="Seconds x width x height requested per tenant per UTC day "
                                                 "(0: no limit)")
    tenant_quotas: str = Field(default="", description="Per-tenant overrides: tenant:requests=..;queued=..;"
                                                      "running=..;daily=.., ...")
    # On by default: SB 942 asks a covered provider for a free public detection tool, and the surface is read-only,
    # keyless by design and rate limited per address. An operator who does not want it turns it off.
    public_checks: bool = Field(default=True, description="Serve /verify and the keyless /v1/public/* endpoints")
    public_rate_limit: str = Field(default="30/minute",
                                   description="Public checks and feedback per client address (limits notation)")
    public_fetch_allow: str = Field(default="", description="CIDRs a public URL check may reach even though they are "
                                                            "private, loopback or link-local (comma-separated)")
    # Scale-out (README "Scale out"): a shared queue, object store and identity for API replicas and GPU workers.
    deployment: Literal["auto", "single", "distributed"] = Field(
        default="auto", description="'distributed': nodes share one identity from configured files and make no keys; "
                                    "'auto': distributed when a server database, a queue or s3:// storage is set")
    queue_url: str = Field(default="", description="Celery broker URL (redis://…); empty: the in-process worker")
    model_queues: str = Field(default="", description="model:queue,… ; jobs of other models go to queue 'hallmark'")
    queue_visibility_timeout: int = Field(default=21600, ge=60, description="Seconds before the broker redelivers an "
                                          "unacknowledged job message; keep it above the longest job")
    job_lease_seconds: int = Field(default=60, ge=5, description="A worker's claim on a running job, renewed every "
                                   "third of it; a job whose lease ran out is re-run (or failed after max_attempts)")
    storage_url: str = Field(default="", description="Where media lives: empty (<data dir>/media), a directory, or "
                             "s3://bucket/prefix (boto3, standard AWS settings)")
    storage_presign_seconds: int = Field(default=0, ge=0, description="s3:// storage: content downloads answer 307 "
                                         "to a presigned URL valid this long (0: the API streams the file)")
    signer: str = Field(default="", description="module:callable returning a c2pa signer callback for a KMS/HSM key")
    audit_key_file: Path | None = Field(default=None, description="The audit checkpoint key (Ed25519 PEM); default "
                                        "<data dir>/keys/audit-ed25519.key")
    log_format: Literal["text", "json"] = Field(default="text", description="Server logs: text, or one JSON object "
                                                "per line with the request id")
    audit_prompt_keys_file: Path | None = Field(default=None, description="The prompt keys (JSON); default "
                                                "<data dir>/keys/audit-prompt-keys.json")

    @field_validator("api_keys")
    @classmethod
    def _check_keys(cls, value: str) -> str:
        parse_api_keys(value)
        return value

    @field_validator("model_aliases")
    @classmethod
    def _check_aliases(cls, value: str) -> str:
        parse_model_aliases(value)
        return value

    @field_validator("tenant_quotas")
    @classmethod
    def _check_tenant_quotas(cls, value: str) -> str:
        parse_tenant_quotas(value)
        return value

    @field_validator("rate_limit", "auth_failure_limit", "public_rate_limit")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        return check_rate(value)

    @field_validator("public_fetch_allow")
    @classmethod
    def _check_fetch_allow(cls, value: str) -> str:
        import ipaddress

        for item in value.split(","):
            if item.strip():
                ipaddress.ip_network(item.strip(), strict=False)  # ValueError names the bad entry
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
    def default_quota(self) -> Quota:
        return Quota(requests=self.rate_limit, queued_jobs=self.max_queued_jobs, running_jobs=self.max_running_jobs,
                     daily_pixel_seconds=self.daily_pixel_seconds)

    @cached_property
    def tenant_quota_overrides(self) -> dict[str, Quota]:
        base = self.default_quota
        return {tenant: Quota(**{**base.__dict__, **fields})
                for tenant, fields in parse_tenant_quotas(self.tenant_quotas).items()}

    @cached_property
    def model_alias_list(self) -> list[ModelAlias]:
        return parse_model_aliases(self.model_aliases)

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
    def audit_key_path(self) -> Path:
        return self.audit_key_file or self.keys_dir / "audit-ed25519.key"

    @property
    def audit_prompt_keys_path(self) -> Path:
        return self.audit_prompt_keys_file or self.keys_dir / "audit-prompt-keys.json"

    @property
    def distributed(self) -> bool:
        """Several nodes share this deployment (a server database, a broker or object storage, unless declared a
        single node): no node may make keys of its own, so every identity must come from configured files."""
        if self.deployment != "auto":
            return self.deployment == "distributed"
        return bool(self.queue_url or self.storage_url.startswith("s3://")
                    or not self.resolved_database_url.startswith("sqlite"))

    @property
    def model_queue_map(self) -> dict[str, str]:
        routes = {}
        for item in filter(None, (part.strip() for part in self.model_queues.split(","))):
            model, sep, queue = item.rpartition(":")
            if not sep or not model or not queue:
                raise ValueError(f"HALLMARK_MODEL_QUEUES entry {item!r} is not 'model:queue'")
            routes[model.strip()] = queue.strip()
        return routes

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    def ensure_dirs(self) -> None:
        """Owner-only (0700): the data directory holds prompts, videos and keys. A directory made by an older
        version (0755) is tightened; one this user does not own is left as the operator set it."""
        for path in (self.data_dir, self.keys_dir, self.media_dir):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                if path.stat().st_mode & 0o077:
                    path.chmod(0o700)
            except PermissionError:
                pass
