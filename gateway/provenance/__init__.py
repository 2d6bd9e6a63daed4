"""C2PA provenance: signing keys and certificates, the Hallmark manifest, signing and reading."""

from .keys import (
    ProvenanceKeyError,
    SigningMaterial,
    describe_material,
    end_entity_profile_problems,
    ensure_dev_ca,
    load_external_signer,
    load_signing_material,
)
from .manifest import (
    GenerationClaim,
    ReferenceIngredient,
    build_manifest,
    content_id_binding_value,
    source_ingredient,
)
from .read import (
    ProvenanceReport,
    ProvenanceState,
    active_manifest_label,
    carries_manifest,
    read_provenance,
    strip_manifest,
)
from .sign import SIGNABLE_MIME_TYPES, SignedAsset, SigningError, sign_asset, sign_asset_with_store

__all__ = [
    "active_manifest_label",
    "carries_manifest",
    "ProvenanceKeyError",
    "SigningMaterial",
    "describe_material",
    "end_entity_profile_problems",
    "ensure_dev_ca",
    "load_external_signer",
    "load_signing_material",
    "GenerationClaim",
    "ReferenceIngredient",
    "build_manifest",
    "source_ingredient",
    "content_id_binding_value",
    "ProvenanceReport",
    "ProvenanceState",
    "read_provenance",
    "strip_manifest",
    "SIGNABLE_MIME_TYPES",
    "SigningError",
    "sign_asset",
    "sign_asset_with_store",
    "SignedAsset",
]
