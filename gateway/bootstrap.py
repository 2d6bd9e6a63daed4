"""The composition root: builds the gateway's long-lived parts and its services from Settings, once, for the API
(``gateway.api.deps``), the worker and the CLI (``gateway.cli.common``). Nothing else imports this module."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

from .audit import AuditEvent, AuditLog
from .audit.queries import AuditQueries
from .core.auth import DEV_TENANT, KeyRing
from .core.lazy import Lazy
from .core.ratelimit import RateLimiter
from .core.settings import Settings
from .generation.metrics import JobMetrics
from .generation.models import ModelCatalog
from .generation.pipeline import MarkingOptions, Producer
from .generation.quotas import TenantQuotas
from .generation.requests import RequestDefaults
from .generation.service import GenerationService
from .generation.worker import JobRunner, Worker
from .media.fetch import UrlFetcher, parse_networks
from .moderation import ModerationService, PolicyService
from .moderation.characters import CharacterService
from .moderation.hashlists import HashListService
from .moderation.visual import VisualScreen
from .provenance import (
    ProvenanceKeyError,
    SigningMaterial,
    describe_material,
    ensure_dev_ca,
    load_external_signer,
    load_signing_material,
)
from .registry import Registry, WorkRegistry
from .store.assets import asset_store_for
from .store.db import Database
from .store.queue import InProcessQueue, JobQueue
from .verification import VerificationService
from .verification.public import PublicChecks
from .verification.trust import TrustAnchors

SIGNER_EVENT = "keys.signing_certificate"


def _load_classifier():
    from classifiers import PromptClassifier

    return PromptClassifier.load()


def _load_sexual_scorer():
    from classifiers.visual import default_sexual_scorer

    return default_sexual_scorer()


def _load_face_embedder():
    from classifiers.visual import default_face_embedder

    return default_face_embedder()


class DeploymentError(RuntimeError):
    """The settings cannot make a working node (e.g. a distributed node without its configured identity)."""


def check_distributed_identity(settings: Settings) -> None:
    """In a distributed deployment every node must sign, checkpoint and seal prompts as the same identity, so none
    may make keys of its own: they come from configured files, the same on every node (or, for the signing key, a
    KMS/HSM through HALLMARK_SIGNER). The development CA and key files are a single-process convenience."""
    if not settings.distributed:
        return
    missing = []
    if not settings.signing_cert_chain or not (settings.signing_key or settings.signer):
        missing.append("HALLMARK_SIGNING_CERT_CHAIN with HALLMARK_SIGNING_KEY (or HALLMARK_SIGNER)")
    if not (settings.audit_key_file and settings.audit_key_file.is_file()):
        missing.append("HALLMARK_AUDIT_KEY_FILE (`hallmark keys shared DIR` makes it)")
    elif settings.audit_prompts == "encrypted" and not (settings.audit_prompt_keys_file
                                                        and settings.audit_prompt_keys_file.is_file()):
        missing.append("HALLMARK_AUDIT_PROMPT_KEYS_FILE (`hallmark keys shared DIR` makes it)")
    if not settings.api_keys:
        missing.append("HALLMARK_API_KEYS")
    if missing:
        raise DeploymentError("This node is part of a distributed deployment (a server database, a queue or object "
                              "storage is configured), so it makes no keys of its own and needs the same identity "
                              "as every other node. Configure: " + "; ".join(missing) + ".")


class Runtime:
    def __init__(self, settings: Settings) -> None:
        check_distributed_identity(settings)
        settings.ensure_dirs()
        self.settings = settings
        self.db = Database(settings.resolved_database_url)
        self.audit = AuditLog.from_settings(self.db, settings)
        self.assets = asset_store_for(settings.storage_url, settings.media_dir,
                                      presign_seconds=settings.storage_presign_seconds)
        self.keys = KeyRing(self.db, settings.api_key_grants)
        self.queue: JobQueue = self._make_queue()
        models = threading.RLock()  # the loaders import transformers, which is not safe from two threads at once
        self._classifier = Lazy(_load_classifier, lock=models)
        self._generator = Lazy(self._load_generator, lock=models)
        self._signing = Lazy(self._load_signing)
        self._sexual_scorer = Lazy(_load_sexual_scorer, lock=models)
        self._face_embedder = Lazy(_load_face_embedder, lock=models)
        self.limiter = RateLimiter(settings.rate_limit_storage)
        self.quotas = TenantQuotas(db=self.db, limiter=self.limiter, default=settings.default_quota,
                                   overrides=settings.tenant_quota_overrides)
        self.registry = Registry(self.db)
        self.works = WorkRegistry(db=self.db, audit=self.audit)

    # -- signing and trust -------------------------------------------------------------------
    @property
    def signing(self) -> SigningMaterial:
        """The signing identity (made or loaded on first use, and audited when it is new to the log)."""
        return self._signing.get()

    def _load_signing(self) -> SigningMaterial:
        s = self.settings
        if s.signer:
            if not s.signing_cert_chain:
                raise ProvenanceKeyError("HALLMARK_SIGNER needs HALLMARK_SIGNING_CERT_CHAIN: the certificate of the "
                                         "key it signs with.")
            material = load_external_signer(s.signing_cert_chain, s.signer)
        elif s.signing_cert_chain or s.signing_key:
            if not (s.signing_cert_chain and s.signing_key):
                raise ProvenanceKeyError(
                    "Set both HALLMARK_SIGNING_CERT_CHAIN and HALLMARK_SIGNING_KEY, or neither (dev CA)."
                )
            material = load_signing_material(s.signing_cert_chain, s.signing_key)
        else:
            existed = (s.keys_dir / "dev-signer.pem").exists()
            material = ensure_dev_ca(s.keys_dir, organization=s.organization)
            if not existed:
                self.audit.append(AuditEvent(event="keys.created", actor="system",
                                             data={"kind": "development CA", "dir": s.keys_dir.name}))
        self._record_signer(material)
        return material

    def _record_signer(self, material: SigningMaterial) -> None:
        """Audit a signing certificate the log has not seen in use before (first start, or a key/certificate
        change made in the settings or key files while the gateway was down)."""
        info = describe_material(material)
        last = self.audit.entries(event=SIGNER_EVENT, descending=True, limit=1)
        previous = last[0].data.get("sha256_fingerprint") if last else None
        if previous == info["sha256_fingerprint"]:
            return
        self.audit.append(AuditEvent(event=SIGNER_EVENT, actor="system", object_id=info["serial"][:64], data={
            key: info[key] for key in ("subject", "issuer", "serial", "not_before", "not_after", "sha256_fingerprint")
        } | {"previous_sha256_fingerprint": previous,
             "source": "operator" if self.settings.signing_cert_chain else "development CA"}))

    @property
    def dev_root_trusted(self) -> bool:
        """Whether the development root is a trust anchor: HALLMARK_TRUST_DEV_ROOT, and never while an operator
        signing chain is configured (the development CA is then not this gateway's identity, and whoever can read
        its key files could otherwise still mint "trusted" manifests)."""
        return self.settings.trust_dev_root and not self.settings.signing_cert_chain

    @cached_property
    def trust(self) -> TrustAnchors:
        s = self.settings
        operator = Path(s.trust_anchors).read_text() if s.trust_anchors else None
        root = self.signing.root_pem if self.dev_root_trusted else None
        return TrustAnchors(operator_pem=operator, dev_root_pem=root.decode() if root else None)

    @property
    def trust_anchors_pem(self) -> str | None:
        return self.trust.pem

    def _trust_anchors(self) -> str | None:
        return self.trust_anchors_pem

    def _trust(self) -> TrustAnchors:
        return self.trust

    # -- models (loaded on first use, once, even when the warm-up thread and a request race) --
    @property
    def classifier(self):
        return self._classifier.get()

    @property
    def generator(self):
        return self._generator.get()

    def _load_generator(self):
        s = self.settings
        if s.generator_backend == "diffusers":
            from generator.backends import DiffusersVideoGenerator

            if s.diffusers_model_dir is None:
                raise ValueError("HALLMARK_GENERATOR_BACKEND=diffusers needs HALLMARK_DIFFUSERS_MODEL_DIR.")
            return DiffusersVideoGenerator(s.diffusers_model_dir, device=s.diffusers_device,
                                           dtype=s.diffusers_dtype, fps=s.diffusers_fps, steps=s.diffusers_steps)
        from generator import load_builtin

        return load_builtin(s.generator_weights)

    # -- services ----------------------------------------------------------------------------
    @cached_property
    def policies(self) -> PolicyService:
        """Per-tenant policy packs; the first load in a process audits any pack that changed since the last one."""
        service = PolicyService(gateway_pack=self.settings.policy_pack,
                                tenant_packs=self.settings.tenant_policy_sources, audit=self.audit)
        service.record_activation()
        return service

    @cached_property
    def moderation(self) -> ModerationService:
        return ModerationService(classifier=self._classifier, policies=self.policies, works=self.works,
                                 audit=self.audit, trust_anchors=self._trust_anchors,
                                 max_prompt_chars=self.settings.max_prompt_chars, visual=self.visual)

    @cached_property
    def hash_lists(self) -> HashListService:
        return HashListService(db=self.db, audit=self.audit)

    @cached_property
    def characters(self) -> CharacterService:
        return CharacterService(db=self.db, audit=self.audit, assets=self.assets, faces=self._face_embedder,
                                keep_videos=self.settings.keep_character_videos)

    @cached_property
    def visual(self) -> VisualScreen:
        return VisualScreen(scorer=self._sexual_scorer, faces=self._face_embedder, hash_lists=self.hash_lists,
                            characters=self.characters, policies=self.policies, audit=self.audit,
                            classifier=self._classifier)

    @cached_property
    def producer(self) -> Producer:
        s = self.settings
        return Producer(generator=self._generator, policies=self.policies, works=self.works, registry=self.registry,
                        audit=self.audit, signing=self._signing, visual=self.visual,
                        options=MarkingOptions(organization=s.organization, watermark_strength=s.watermark_strength,
                                               mp4_crf=s.mp4_crf, tsa_url=s.tsa_url,
                                               remix_strength=s.remix_strength))

    @cached_property
    def generation(self) -> GenerationService:
        s = self.settings
        return GenerationService(db=self.db, assets=self.assets, audit=self.audit, queue=self.queue,
                                 moderation=self.moderation, generator=self._generator, producer=self.producer,
                                 defaults=RequestDefaults(max_prompt_chars=s.max_prompt_chars,
                                                          seconds=s.default_seconds, size=s.default_size),
                                 quotas=self.quotas, prompt_retention_days=s.prompt_retention_days,
                                 models=ModelCatalog(s.model_alias_list), review_timeout=s.review_timeout,
                                 video_retention_hours=s.video_retention_hours)

    @cached_property
    def runner(self) -> JobRunner:
        return JobRunner(db=self.db, assets=self.assets, audit=self.audit, producer=self.producer,
                         max_attempts=self.settings.max_attempts, running_limit=self.quotas.running_limit,
                         lease_seconds=self.settings.job_lease_seconds)

    def _make_queue(self) -> JobQueue:
        """The in-process queue, or Celery over the broker at HALLMARK_QUEUE_URL (jobs go to their model's pool)."""
        s = self.settings
        if not s.queue_url:
            return InProcessQueue()
        from .store.celery_queue import CeleryQueue, make_celery

        return CeleryQueue(make_celery(s.queue_url, visibility_timeout=s.queue_visibility_timeout),
                           routes=s.model_queue_map)

    def worker(self) -> Worker:
        return Worker(self.runner, self.queue, self.settings.workers, housekeeping=self.generation.housekeeping)

    @cached_property
    def verification(self) -> VerificationService:
        s = self.settings
        return VerificationService(registry=self.registry, audit=self.audit, trust=self._trust,
                                   kept_uploads=self._kept_uploads() if s.keep_check_uploads else None)

    def _kept_uploads(self):
        """Kept check uploads go where the media go: ``checks/`` beside them in a shared object store, so every
        node's checks land in one place, else the data directory's ``checks/``."""
        s = self.settings
        if s.storage_url.startswith("s3://"):
            return asset_store_for(s.storage_url.rstrip("/") + "/checks", s.media_dir)
        return asset_store_for("", Path(s.data_dir) / "checks")

    @cached_property
    def public(self) -> PublicChecks:
        s = self.settings
        fetcher = UrlFetcher(max_bytes=s.max_upload_bytes, allow=parse_networks(s.public_fetch_allow))
        return PublicChecks(verification=self.verification, fetcher=fetcher, db=self.db, audit=self.audit)

    @cached_property
    def job_metrics(self) -> JobMetrics:
        return JobMetrics(db=self.db, audit=self.audit, queue=self.queue)

    @cached_property
    def audit_queries(self) -> AuditQueries:
        return AuditQueries(self.audit)

    # -- first start -------------------------------------------------------------------------
    def ensure_dev_key(self) -> str | None:
        """Make a development API key when none is configured; returns it (to print once) or None."""
        if self.keys.has_any():
            return None
        key = self.keys.create_key(DEV_TENANT)
        path = self.settings.data_dir / "dev-api-key.txt"
        path.write_text(key + "\n")
        path.chmod(0o600)
        self.audit.append(AuditEvent(event="apikey.created", actor="system", tenant=DEV_TENANT,
                                     data={"kind": "development key"}))
        return key

    def close(self) -> None:
        self.db.dispose()
