"""Embed a signed C2PA manifest into an asset, in memory."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

import c2pa

from ._context import c2pa_context
from .keys import SigningMaterial
from .manifest import ReferenceIngredient

__all__ = ["SigningError", "SIGNABLE_MIME_TYPES", "SignedAsset", "sign_asset", "sign_asset_with_store"]

# What the gateway signs. c2pa-rs supports more; these are the ones we produce and test.
SIGNABLE_MIME_TYPES = frozenset({"video/mp4", "video/quicktime", "image/jpeg", "image/png"})


class SigningError(Exception):
    """c2pa-rs refused to sign: bad credentials, a manifest it rejects, or an asset it cannot parse."""


@dataclass(frozen=True)
class SignedAsset:
    data: bytes  # the asset with the manifest store embedded
    manifest_store: bytes  # the same manifest store on its own (application/c2pa), for durable credentials


def sign_asset(
    data: bytes,
    mime: str,
    manifest: dict,
    material: SigningMaterial,
    *,
    tsa_url: str | None = None,
) -> bytes:
    """Return ``data`` with ``manifest`` signed by ``material`` embedded (MP4: a ``uuid`` box after ``ftyp``)."""
    return sign_asset_with_store(data, mime, manifest, material, tsa_url=tsa_url).data


def sign_asset_with_store(
    data: bytes,
    mime: str,
    manifest: dict,
    material: SigningMaterial,
    *,
    tsa_url: str | None = None,
    ingredients: Sequence[ReferenceIngredient] = (),
) -> SignedAsset:
    """Sign ``data``; return the signed asset and the manifest store bytes c2pa-rs embedded in it.

    ``tsa_url`` names an RFC 3161 timestamp authority contacted once, now; without one the
    signature stays valid only until the signing certificate expires.
    ``ingredients`` are added from their bytes: an ingredient's own C2PA manifest (if any) is
    validated offline and copied into the new manifest store as that ingredient's active manifest.
    """
    if mime not in SIGNABLE_MIME_TYPES:
        raise SigningError(f"Cannot sign {mime!r}; signable types are {', '.join(sorted(SIGNABLE_MIME_TYPES))}.")
    if not data:
        raise SigningError("Cannot sign an empty asset (0 bytes).")
    definition = dict(manifest)
    definition["format"] = mime  # the manifest must describe the bytes it is bound to
    try:
        if material.sign is not None:  # a KMS/HSM key: c2pa-rs hands the bytes to sign to the operator's callback
            algorithm = getattr(c2pa.C2paSigningAlg, material.alg.upper())
            signer = c2pa.Signer.from_callback(material.sign, algorithm, material.cert_chain_pem.decode(), tsa_url)
        else:
            signer = c2pa.Signer.from_info(
                c2pa.C2paSignerInfo(material.alg, material.cert_chain_pem, material.private_key_pem, tsa_url)
            )
    except c2pa.C2paError as exc:
        raise SigningError(
            f"c2pa-rs refused the signing credentials ({exc}); check the certificate chain and key "
            "(describe_material / `hallmark keys show`)."
        ) from exc
    out = io.BytesIO()
    try:
        with signer, c2pa_context() as context, c2pa.Builder(definition, context=context) as builder:
            for ingredient in ingredients:
                builder.add_ingredient(ingredient.definition(), ingredient.mime, io.BytesIO(ingredient.data))
            store = builder.sign(signer, mime, io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        # c2pa-rs's own text for an unreachable or failing TSA names neither the setting nor its role.
        via = f" (the signature is time-stamped by {tsa_url}, HALLMARK_TSA_URL)" if tsa_url else ""
        raise SigningError(f"c2pa-rs could not sign the {mime} asset: {exc}{via}") from exc
    signed = out.getvalue()
    if not signed:
        raise SigningError("c2pa-rs returned an empty signed asset.")
    return SignedAsset(data=signed, manifest_store=bytes(store or b""))
