"""The gateway's long-lived parts, built once from Settings and shared by the API, the worker and the CLI."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

from .audit import AuditEvent, AuditLog
from .auth import DEV_TENANT, KeyRing
from .db import Database
from .policy_admin import PolicyService
from .provenance import SigningMaterial, ensure_dev_ca, load_signing_material
from .settings import Settings
from .storage import AssetStore


SIGNER_EVENT = "keys.signing_certificate"


class Runtime:
    def __init__(self, settings: Settings) -> None:
        settings.ensure_dirs()
        self.settings = settings
        self.db = Database(settings.resolved_database_url)
        self.audit = AuditLog.from_settings(self.db, settings)
        self.assets = AssetStore(settings.media_dir)
        self.keys = KeyRing(self.db, settings.api_key_grants)
        self._load_lock = threading.Lock()
        self._loaded: dict[str, object] = {}

    # -- signing and trust -------------------------------------------------------------------
    @cached_property
    def signing(self) -> SigningMaterial:
        s = self.settings
        if s.signing_cert_chain or s.signing_key:
            if not (s.signing_cert_chain and s.signing_key):
                from .provenance import ProvenanceKeyError

                raise ProvenanceKeyError(
                    "Set both HALLMARK_SIGNING_CERT_CHAIN and HALLMARK_SIGNING_KEY, or neither (dev CA)."
                )
            material = load_signing_material(s.signing_cert_chain, s.signing_key)
        else:
            existed = (s.keys_dir / "dev-signer.pem").exists()
            material = ensure_dev_ca(s.keys_dir, organization=s.organization)
            if not existed:
                self.audit.append(AuditEvent(event="keys.created", actor="system",
                                             data={"kind": "development CA", "dir": str(s.keys_dir)}))
        self._record_signer(material)
        return material

    def _record_signer(self, material: SigningMaterial) -> None:
        """Audit a signing certificate the log has not seen in use before (first start, or a key/certificate
        change made in the settings or key files while the gateway was down)."""
        from .provenance import describe_material

        info = describe_material(material)
        last = self.audit.entries(event=SIGNER_EVENT, descending=True, limit=1)
        previous = last[0].data.get("sha256_fingerprint") if last else None
        if previous == info["sha256_fingerprint"]:
            return
        self.audit.append(AuditEvent(event=SIGNER_EVENT, actor="system", object_id=info["serial"][:64], data={
            key: info[key] for key in ("subject", "issuer", "serial", "not_before", "not_after", "sha256_fingerprint")
        } | {"previous_sha256_fingerprint": previous,
             "source": "operator" if self.settings.signing_cert_chain else "development CA"}))

    @cached_property
    def trust_anchors_pem(self) -> str | None:
        parts: list[str] = []
        if self.settings.trust_anchors:
            parts.append(Path(self.settings.trust_anchors).read_text())
        if self.settings.dev_mode and self.signing.root_pem:
            parts.append(self.signing.root_pem.decode())
        return "\n".join(parts) or None

    # -- models (loaded on first use, once, even when the warm-up thread and a request race) -------
    def _once(self, name: str, factory):
        if name not in self._loaded:
            with self._load_lock:
                if name not in self._loaded:
                    self._loaded[name] = factory()
        return self._loaded[name]

    # Imports happen inside the lock too: transformers' lazy module is not safe to import from two threads.
    @property
    def classifier(self):
        def load():
            from classifiers import PromptClassifier

            return PromptClassifier.load()

        return self._once("classifier", load)

    @property
    def generator(self):
        def load():
            s = self.settings
            if s.generator_backend == "diffusers":
                from generator.backends import DiffusersVideoGenerator

                if s.diffusers_model_dir is None:
                    raise ValueError("HALLMARK_GENERATOR_BACKEND=diffusers needs HALLMARK_DIFFUSERS_MODEL_DIR.")
                return DiffusersVideoGenerator(s.diffusers_model_dir, device=s.diffusers_device,
                                               dtype=s.diffusers_dtype, fps=s.diffusers_fps, steps=s.diffusers_steps)
            from generator import load_builtin

            return load_builtin(s.generator_weights)

        return self._once("generator", load)

    @property
    def policies(self) -> PolicyService:
        """Per-tenant policy packs; the first load in a process audits any pack that changed since the last one."""
        def load():
            service = PolicyService(self)
            service.record_activation()
            return service

        return self._once("policies", load)

    def policy_engine(self, tenant: str | None = None):
        """The engine of the pack that decides for ``tenant`` (the gateway-wide pack unless it has its own)."""
        return self.policies.engine(tenant)

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
