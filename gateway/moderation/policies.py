"""Which policy pack decides for which tenant, and every change to that: load, reload, and the audit of both.

A *scope* is ``"*"`` (the gateway-wide pack, ``HALLMARK_POLICY_PACK``) or a tenant that
``HALLMARK_TENANT_POLICIES`` gives its own pack. Each activation — the first load in a process when the pack
differs from the last one the log recorded, and every reload — is an audit leaf ``policy.activated`` carrying the
pack's ``id@version``, the SHA-256 of its text, where it came from and who changed it. A reload that fails
validation is audited as ``policy.reload_failed`` and leaves the previous pack active.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import PurePath

from policies import PolicyEngine, PolicyError, PolicyPack, PolicyRegistry

from ..audit import AuditEvent, AuditLog
from ..core.errors import NotFound, PolicyRejected
from ..core.redact import without_paths

GATEWAY_SCOPE = "*"
ACTIVATED = "policy.activated"
RELOAD_FAILED = "policy.reload_failed"


@dataclass(frozen=True)
class ActivePack:
    scope: str
    policy: str  # id@version
    digest: str
    source: str  # the pack's file, as configured (for the operator's own ``hallmark policy list``)

    def to_dict(self) -> dict:
        """As API clients and the audit log see it: the pack's file name, not where it lives on the server."""
        return {**asdict(self), "source": PurePath(self.source).name if self.source else ""}


class PolicyService:
    def __init__(self, *, gateway_pack: str, tenant_packs: dict[str, str], audit: AuditLog) -> None:
        """``gateway_pack``: the pack (a shipped name or a YAML path) for every tenant without one of its own in
        ``tenant_packs`` (tenant -> pack)."""
        self._audit = audit
        self._tenants = dict(tenant_packs)
        try:
            self._registry = PolicyRegistry({GATEWAY_SCOPE: gateway_pack, **self._tenants})
        except PolicyError as exc:
            raise PolicyRejected(f"The configured policy pack is invalid, so the gateway cannot start: {exc}",
                                 param="HALLMARK_POLICY_PACK/HALLMARK_TENANT_POLICIES") from exc

    # -- lookups ----------------------------------------------------------------------------------------------
    def scope_for(self, tenant: str | None) -> str:
        return tenant if tenant in self._tenants else GATEWAY_SCOPE

    def engine(self, tenant: str | None = None) -> PolicyEngine:
        return self._registry.engine(self.scope_for(tenant))

    def pack(self, tenant: str | None = None) -> PolicyPack:
        return self.engine(tenant).pack

    def active(self) -> list[ActivePack]:
        return [_active(scope, self._registry.get(scope)) for scope in self._registry.names()]

    def describe(self) -> list[dict]:
        """Each scope's active pack with the pack's own description (``GET /v1/policies``)."""
        return [{**p.to_dict(), "pack": self.pack(None if p.scope == GATEWAY_SCOPE else p.scope).to_dict()}
                for p in self.active()]

    # -- changes ----------------------------------------------------------------------------------------------
    def record_activation(self, *, actor: str = "system") -> list[ActivePack]:
        """Audit every scope whose pack differs from the last one the log recorded (first start, or a pack file
        or setting changed while the gateway was down). Returns the activations recorded."""
        last = self._last_recorded()
        recorded = []
        for pack in self.active():
            previous = last.get(pack.scope)
            if previous is None or previous.get("digest") != pack.digest or previous.get("policy") != pack.policy:
                self._audit_activation(pack, previous, actor=actor, reason="start")
                recorded.append(pack)
        return recorded

    def reload(self, scope: str | None = None, *, actor: str) -> list[ActivePack]:
        """Re-read the pack file(s) of one scope (or all). Valid packs are swapped in and their changes audited;
        if any fails, its previous pack stays active, the failure is audited and :class:`PolicyRejected` raised
        (after the valid ones were applied)."""
        if scope is not None and scope not in self._registry:
            raise NotFound(f"No policy scope {scope!r}; scopes are {', '.join(self._registry.names())} "
                           "('*' is the gateway-wide pack).", param="scope")
        before = {p.scope: p for p in self.active()}
        failure: PolicyError | None = None
        try:
            self._registry.reload(scope)
        except PolicyError as exc:
            failure = exc
        after = [p for p in self.active() if scope is None or p.scope == scope]
        for pack in after:
            previous = before.get(pack.scope)
            if previous is None or previous.digest != pack.digest or previous.policy != pack.policy:
                self._audit_activation(pack, previous.to_dict() if previous else None, actor=actor,
                                       reason="reload")
        if failure is not None:
            # Each problem names the pack's file; the admin who asked, and the log, get its name, not its path.
            message = self._without_sources(str(failure))
            errors = [self._without_sources(e) for e in failure.errors or [str(failure)]]
            self._audit.append(AuditEvent(event=RELOAD_FAILED, actor=actor,
                                             data={"scope": scope or "all", "errors": errors, "message": message}))
            raise PolicyRejected(f"Policy reload refused: {message}", param="scope",
                                 extra={"errors": errors, "active": [p.to_dict() for p in self.active()]})
        return after

    # -- internals --------------------------------------------------------------------------------------------
    def _without_sources(self, text: str) -> str:
        for pack in self.active():  # relative paths too, which ``without_paths`` leaves alone
            if pack.source and PurePath(pack.source).name != pack.source:
                text = text.replace(pack.source, PurePath(pack.source).name)
        return without_paths(text)

    def _audit_activation(self, pack: ActivePack, previous: dict | None, *, actor: str, reason: str) -> None:
        self._audit.append(AuditEvent(
            event=ACTIVATED, actor=actor, tenant=None if pack.scope == GATEWAY_SCOPE else pack.scope,
            object_id=pack.policy,
            data={**pack.to_dict(), "reason": reason,
                  "previous": {"policy": previous.get("policy"), "digest": previous.get("digest")}
                  if previous else None},
        ))

    def _last_recorded(self) -> dict[str, dict]:
        last: dict[str, dict] = {}
        for row in self._audit.entries(event=ACTIVATED, descending=True, limit=1000):
            data = row.data
            scope = data.get("scope")
            if scope and scope not in last:
                last[scope] = data
        return last


def _active(scope: str, pack: PolicyPack) -> ActivePack:
    return ActivePack(scope=scope, policy=pack.ref, digest=pack.digest or "", source=pack.source or "")
