"""c2pa-rs settings shared by signing and reading: offline, EKU allow-list, no auto thumbnails."""

from __future__ import annotations

import c2pa

from .keys import c2pa_trust_config


def c2pa_context(*, user_anchors_pem: str | None = None) -> c2pa.Context:
    """A fresh c2pa Context.

    - Never touches the network: remote manifests are not fetched (an uploaded file could
      otherwise make the gateway request any URL) and OCSP is not queried.
    - ``trust_config`` lists the allowed signer EKUs; c2pa-rs needs it set when signing
      *and* reading for documentSigning or the C2PA claim-signing EKU to be accepted.
    - Thumbnails are off: c2pa-rs would upscale small images to 1024 px inside the manifest.
    - ``user_anchors_pem`` are the roots whose chains count as trusted; with none, a
      correctly signed file validates as ``Valid`` with ``signingCredential.untrusted``.
    """
    trust: dict[str, str] = {"trust_config": c2pa_trust_config()}
    if user_anchors_pem:
        trust["user_anchors"] = user_anchors_pem
    return c2pa.Context.from_dict(
        {
            "version": 1,
            "trust": trust,
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_trust": True},
            "builder": {"thumbnail": {"enabled": False}},
        }
    )
