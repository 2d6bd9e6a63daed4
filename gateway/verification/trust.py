"""Which roots a check trusts, kept apart so that a result can say what vouched for a ``trusted`` manifest: the
operator's trust anchors, or only the development root (which anyone holding this data directory can sign under)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from ..provenance import ProvenanceReport

TrustSource = Literal["trust anchors", "development root"]
TRUST_ANCHORS: TrustSource = "trust anchors"
DEV_ROOT: TrustSource = "development root"


@dataclass(frozen=True)
class TrustAnchors:
    """``operator_pem``: the HALLMARK_TRUST_ANCHORS bundle; ``dev_root_pem``: the development root, present only
    while it is trusted (HALLMARK_TRUST_DEV_ROOT, and no operator signing chain)."""

    operator_pem: str | None = None
    dev_root_pem: str | None = None

    @property
    def pem(self) -> str | None:
        """Every trusted root, as one PEM bundle; None when nothing is trusted."""
        return "\n".join(part for part in (self.operator_pem, self.dev_root_pem) if part) or None

    def source(self, report: ProvenanceReport | None,
               reread: Callable[[str], ProvenanceReport]) -> TrustSource | None:
        """What made ``report`` trusted (None when it is not). c2pa-rs does not say which anchor a chain ended at,
        so with both kinds of root configured the manifest is validated again under the operator's alone (only
        then; ``reread`` does it): a manifest trusted only with the development root added rests on that root."""
        if report is None or report.state != "trusted":
            return None
        if not self.dev_root_pem:
            return TRUST_ANCHORS
        if not self.operator_pem:
            return DEV_ROOT
        return TRUST_ANCHORS if reread(self.operator_pem).state == "trusted" else DEV_ROOT
