"""gateway.provenance: real keys, real c2pa-rs signing and validation, real MP4s; no mocks."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import stat

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from PIL import Image

from gateway.media import decode_media, encode_mp4, probe_mp4, top_level_boxes
from gateway.provenance import (
    GenerationClaim,
    ProvenanceKeyError,
    SigningError,
    SigningMaterial,
    build_manifest,
    content_id_binding_value,
    describe_material,
    end_entity_profile_problems,
    ensure_dev_ca,
    load_signing_material,
    read_provenance,
    sign_asset,
    strip_manifest,
)

UTC = dt.timezone.utc
CONTENT_ID = 0x0123456789ABCDEF
PROMPT = "a red kite over a green hill at dawn"
C2PA_CLAIM_SIGNING = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")


# --- certificate helpers (an operator's PKI, built here with cryptography) -------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Studio"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(
    subject_key,
    cn: str,
    *,
    issuer: x509.Certificate | None = None,
    issuer_key=None,
    ca: bool = False,
    eku: list | None = None,
    aki: bool = True,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(UTC)
    self_signed = issuer is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn) if self_signed else issuer.subject)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if aki:
        signer_public = (subject_key if self_signed else issuer_key).public_key()
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_public), critical=False)
    return builder.sign(subject_key if self_signed else issuer_key, hashes.SHA256())


def write_pair(tmp_path, certs: list[x509.Certificate], key, name: str = "signer"):
    chain_path = tmp_path / f"{name}-chain.pem"
    key_path = tmp_path / f"{name}.key"
    chain_path.write_bytes(b"".join(_pem(c) for c in certs))
    key_path.write_bytes(_key_pem(key))
    key_path.chmod(0o600)
    return chain_path, key_path


# --- shared fixtures ---------------------------------------------------------------


@pytest.fixture(scope="module")
def material(tmp_path_factory) -> SigningMaterial:
    return ensure_dev_ca(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def root_pem(material) -> str:
    return material.root_pem.decode()


@pytest.fixture(scope="module")
def claim() -> GenerationClaim:
    return GenerationClaim(
        content_id=CONTENT_ID,
        video_id="video_6f1c2a",
        model="hallmark-dit-tiny",
        model_version="0.1.0",
        seed=1234,
        policy="default@2026.11",
        decision_id="dec_8c41",
        prompt_sha256=hashlib.sha256(PROMPT.encode()).hexdigest(),
        created_at=dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC),
        tenant="tenant-acme",
        watermark_alg="com.hallmark.watermark.v1",
        watermark_value=content_id_binding_value(CONTENT_ID),
        software_version="0.1.0",
    )


@pytest.fixture(scope="module")
def video() -> bytes:
    t = np.arange(24)[:, None, None]
    x = np.arange(128)[None, None, :]
    y = np.arange(128)[None, :, None]
    frames = np.stack(np.broadcast_arrays((x * 2 + t * 5) % 256, (y * 2 + 0 * t + 0 * x) % 256, (x + y) % 256), -1)
    return encode_mp4(frames.astype(np.uint8), 24.0)


@pytest.fixture(scope="module")
def signed(video, claim, material) -> bytes:
    return sign_asset(video, "video/mp4", build_manifest(claim), material)


def flip_byte_in_box(data: bytes, box: str) -> bytes:
    offset, size = next((o, s) for t, o, s in top_level_boxes(data) if t == box)
    altered = bytearray(data)
    altered[offset + size // 2] ^= 0x01
    return bytes(altered)


# --- the development CA --------------------------------------------------------------


def test_ensure_dev_ca_creates_private_files_and_a_conformant_signer(tmp_path):
    keys_dir = tmp_path / "keys"
    m = ensure_dev_ca(keys_dir)

    for name in ("dev-root-ca.key", "dev-signer.key"):
        assert stat.S_IMODE(os.stat(keys_dir / name).st_mode) == 0o600, name
    for name in ("dev-root-ca.pem", "dev-signer.pem"):
        assert (keys_dir / name).is_file()

    root = x509.load_pem_x509_certificate(m.root_pem)
    chain = x509.load_pem_x509_certificates(m.cert_chain_pem)
    assert len(chain) == 1, "the chain must not carry the root"
    ee = chain[0]
    ee.verify_directly_issued_by(root)

    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert (root.not_valid_after_utc - root.not_valid_before_utc).days >= 3649

    assert ee.version == x509.Version.v3
    assert ee.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = ee.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert list(ee.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    aki = ee.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest
    assert ee.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert isinstance(ee.public_key(), ec.EllipticCurvePublicKey) and ee.public_key().curve.name == "secp256r1"
    assert 360 <= (ee.not_valid_after_utc - ee.not_valid_before_utc).days <= 366
    assert end_entity_profile_problems(ee) == []
    assert m.alg == "es256"

    key = serialization.load_pem_private_key(m.private_key_pem, password=None)
    assert key.public_key().public_numbers() == ee.public_key().public_numbers()


def test_ensure_dev_ca_is_idempotent(tmp_path):
    first = ensure_dev_ca(tmp_path)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    second = ensure_dev_ca(tmp_path)
    assert second == first
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files


def test_ensure_dev_ca_reissues_a_signer_near_expiry_under_the_same_root(tmp_path):
    long_ago = dt.datetime.now(UTC) - dt.timedelta(days=360)  # the signer then expires in ~5 days
    old = ensure_dev_ca(tmp_path, now=long_ago)
    new = ensure_dev_ca(tmp_path)
    assert new.root_pem == old.root_pem
    assert new.cert_chain_pem != old.cert_chain_pem
    assert x509.load_pem_x509_certificate(new.cert_chain_pem).not_valid_after_utc > dt.datetime.now(UTC) + dt.timedelta(days=300)
    assert stat.S_IMODE(os.stat(tmp_path / "dev-signer.key").st_mode) == 0o600


def test_ensure_dev_ca_recovers_or_explains_damaged_files(tmp_path):
    first = ensure_dev_ca(tmp_path)
    (tmp_path / "dev-signer.key").unlink()  # a lost signer key: re-issued under the same root
    second = ensure_dev_ca(tmp_path)
    assert second.root_pem == first.root_pem and second.cert_chain_pem != first.cert_chain_pem

    (tmp_path / "dev-signer.pem").write_text("not a certificate")
    with pytest.raises(ProvenanceKeyError, match="remove that directory"):
        ensure_dev_ca(tmp_path)


def test_describe_material_summarises_without_secrets(material):
    info = describe_material(material)
    assert info["subject"] == "CN=Hallmark Dev C2PA Signer,O=Hallmark Dev"
    assert info["issuer"] == "CN=Hallmark Dev Development Root CA,O=Hallmark Dev"
    assert len(info["sha256_fingerprint"]) == 64
    assert info["serial"] and info["not_before"] < info["not_after"]
    assert info["extended_key_usage"] == ["emailProtection"]
    assert info["profile_problems"] == []
    assert info["root"]["subject"].startswith("CN=Hallmark Dev Development Root CA")
    dumped = json.dumps(info)
    assert "PRIVATE KEY" not in dumped
    assert "PRIVATE KEY" not in repr(material)


# --- operator-provided material --------------------------------------------------


def test_operator_chain_with_intermediate_signs_and_is_trusted_under_its_root(tmp_path, video, claim):
    root_key, inter_key, ee_key = _key(), _key(), _key()
    root = make_cert(root_key, "Example Root", ca=True)
    inter = make_cert(inter_key, "Example Issuing CA", issuer=root, issuer_key=root_key, ca=True)
    ee = make_cert(ee_key, "Example C2PA Signer", issuer=inter, issuer_key=inter_key, eku=[C2PA_CLAIM_SIGNING])
    # The root at the end of the file is dropped from the embedded chain.
    chain_path, key_path = write_pair(tmp_path, [ee, inter, root], ee_key)

    m = load_signing_material(chain_path, key_path)
    assert [c.subject for c in m.certificates()] == [ee.subject, inter.subject]
    assert m.root_pem is None and m.alg == "es256"

    # The C2PA claim-signing EKU is accepted because our contexts set trust.trust_config.
    signed = sign_asset(video, "video/mp4", build_manifest(claim), m)
    report = read_provenance(signed, "video/mp4", trust_anchors_pem=_pem(root).decode())
    assert report.state == "trusted"
    assert report.issuer == "Example Studio"


def test_self_signed_signer_is_refused(tmp_path):
    key = _key()
    cert = make_cert(key, "Lonely Signer", eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION])
    chain_path, key_path = write_pair(tmp_path, [cert], key)
    with pytest.raises(ProvenanceKeyError, match="self-signed"):
        load_signing_material(chain_path, key_path)


def test_ca_certificate_as_signer_is_refused(tmp_path):
    root_key, ca_key = _key(), _key()
    root = make_cert(root_key, "Example Root", ca=True)
    ca_cert = make_cert(ca_key, "Example Issuing CA", issuer=root, issuer_key=root_key, ca=True)
    chain_path, key_path = write_pair(tmp_path, [ca_cert], ca_key)
    with pytest.raises(ProvenanceKeyError, match="CA certificate") as caught:
        load_signing_material(chain_path, key_path)
    message = str(caught.value)
    assert "C2PA end-entity profile" in message and "ExtendedKeyUsage" in message  # every broken rule is named


def test_key_not_matching_certificate_is_refused(tmp_path, material):
    chain_path = tmp_path / "chain.pem"
    chain_path.write_bytes(material.cert_chain_pem)
    _, other_key_path = write_pair(tmp_path, [], _key(), name="other")
    with pytest.raises(ProvenanceKeyError, match="does not match"):
        load_signing_material(chain_path, other_key_path)


def test_expired_or_profile_breaking_signers_are_refused(tmp_path):
    root_key, ee_key = _key(), _key()
    root = make_cert(root_key, "Example Root", ca=True)
    past = dt.datetime.now(UTC) - dt.timedelta(days=30)
    expired = make_cert(
        ee_key, "Old Signer", issuer=root, issuer_key=root_key, eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION],
        not_before=past - dt.timedelta(days=60), not_after=past,
    )
    chain_path, key_path = write_pair(tmp_path, [expired], ee_key, name="expired")
    with pytest.raises(ProvenanceKeyError, match="expired"):
        load_signing_material(chain_path, key_path)

    no_eku_no_aki = make_cert(ee_key, "Bare Signer", issuer=root, issuer_key=root_key, aki=False)
    chain_path, key_path = write_pair(tmp_path, [no_eku_no_aki], ee_key, name="bare")
    with pytest.raises(ProvenanceKeyError, match="AuthorityKeyIdentifier") as caught:
        load_signing_material(chain_path, key_path)
    assert "ExtendedKeyUsage" in str(caught.value)


def test_missing_and_unreadable_files_have_actionable_errors(tmp_path, material):
    chain_path = tmp_path / "chain.pem"
    chain_path.write_bytes(material.cert_chain_pem)
    with pytest.raises(ProvenanceKeyError, match="does not exist"):
        load_signing_material(chain_path, tmp_path / "nope.key")
    with pytest.raises(ProvenanceKeyError, match="does not exist"):
        load_signing_material(tmp_path / "nope.pem", tmp_path / "nope.key")
    not_pem = tmp_path / "garbage.pem"
    not_pem.write_text("this is not a certificate\n")
    with pytest.raises(ProvenanceKeyError, match="PEM"):
        load_signing_material(not_pem, chain_path)
    key_path = tmp_path / "signer.key"
    key_path.write_bytes(material.private_key_pem)
    with pytest.raises(ProvenanceKeyError, match="directory"):
        load_signing_material(tmp_path, key_path)


# --- the manifest ------------------------------------------------------------------


def test_manifest_carries_required_assertions_but_no_personal_data(claim):
    manifest = build_manifest(claim)
    assert manifest["claim_generator_info"] == [{"name": "Hallmark", "version": "0.1.0"}]
    labels = [a["label"] for a in manifest["assertions"]]
    assert labels == ["c2pa.actions", "c2pa.soft-binding", "com.hallmark.generation"]
    created = manifest["assertions"][0]["data"]["actions"][0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert created["softwareAgent"] == {"name": "Hallmark hallmark-dit-tiny", "version": "0.1.0"}
    dumped = json.dumps(manifest)
    assert "tenant-acme" not in dumped
    assert PROMPT not in dumped


def test_generation_claim_validates_its_fields(claim):
    fields = {f: getattr(claim, f) for f in claim.__dataclass_fields__}
    for bad in (
        {"content_id": 2**64},
        {"prompt_sha256": PROMPT},
        {"policy": "default"},
        {"created_at": dt.datetime(2026, 1, 1)},
        {"watermark_value": "not base64!"},
    ):
        with pytest.raises(ValueError):
            GenerationClaim(**{**fields, **bad})
    assert content_id_binding_value(1) == "AAAAAAAAAAE="


# --- sign and read ----------------------------------------------------------------


def test_signed_video_is_trusted_under_the_dev_root_and_round_trips_the_claim(signed, video, claim, root_pem):
    report = read_provenance(signed, "video/mp4", trust_anchors_pem=root_pem)
    assert report.state == "trusted"
    assert report.validation_codes == []
    assert report.issuer == "Hallmark Dev"
    assert report.claim_generator == "Hallmark 0.1.0"
    assert report.generation == claim.generation_assertion()
    assert report.generation["content_id"] == "0123456789abcdef"
    assert report.generated_at == "2026-11-25T12:00:00Z"
    assert report.soft_bindings == [
        {"alg": "com.hallmark.watermark.v1", "value": content_id_binding_value(CONTENT_ID), "scope": {}}
    ]
    assert report.active_manifest_id.startswith("urn:c2pa:")
    assert report.detected
    as_dict = report.to_dict()
    json.dumps(as_dict)
    assert "tenant-acme" not in json.dumps(as_dict["manifest_json"])

    # Signing adds a few KB and leaves a playable H.264 file.
    assert 0 < len(signed) - len(video) < 16_384
    assert probe_mp4(signed)["codec"] == "h264"
    assert decode_media(signed).frames.shape[0] == 24


def test_without_anchors_a_good_signature_is_only_valid(signed):
    report = read_provenance(signed, "video/mp4", trust_anchors_pem=None)
    assert report.state == "valid"
    assert "signingCredential.untrusted" in report.validation_codes
    assert report.generation["video_id"] == "video_6f1c2a"


def test_an_unrelated_root_does_not_make_it_trusted(signed, tmp_path, root_pem):
    other = ensure_dev_ca(tmp_path, organization="Someone Else")
    report = read_provenance(signed, "video/mp4", trust_anchors_pem=other.root_pem.decode())
    assert report.state == "valid"
    assert "signingCredential.untrusted" in report.validation_codes
    # A bundle of several anchors trusts a file signed under any one of them.
    bundle = other.root_pem.decode() + root_pem
    assert read_provenance(signed, "video/mp4", trust_anchors_pem=bundle).state == "trusted"


def test_malformed_trust_anchors_are_a_configuration_error(signed):
    with pytest.raises(ValueError, match="trust_anchors_pem"):
        read_provenance(signed, "video/mp4", trust_anchors_pem="not a certificate")


@pytest.mark.parametrize("box", ["mdat", "moov"])
def test_one_flipped_byte_in_the_video_makes_it_invalid(signed, root_pem, box):
    report = read_provenance(flip_byte_in_box(signed, box), "video/mp4", trust_anchors_pem=root_pem)
    assert report.state == "invalid"
    assert any("bmffHash.mismatch" in code for code in report.validation_codes)
    assert not any(code.endswith(".match") or code.endswith(".validated") for code in report.validation_codes)


def test_appended_bytes_make_it_invalid(signed, root_pem):
    report = read_provenance(signed + b"\x00" * 16, "video/mp4", trust_anchors_pem=root_pem)
    assert report.state == "invalid"
    assert "assertion.bmffHash.mismatch" in report.validation_codes


def test_stripped_manifest_is_not_present_and_the_video_still_plays(signed, video):
    stripped = strip_manifest(signed)
    report = read_provenance(stripped, "video/mp4", trust_anchors_pem=None)
    assert report.state == "not_present"
    assert report.generation is None and report.soft_bindings == []
    assert decode_media(stripped).frames.shape == (24, 128, 128, 3)
    assert strip_manifest(video) == video  # nothing to strip
    assert read_provenance(video, "video/mp4", trust_anchors_pem=None).state == "not_present"
    with pytest.raises(ValueError):
        strip_manifest(b"\xff\xd8\xff\xe0 a jpeg")


def test_reading_odd_input_never_raises(signed, video):
    cases = {
        "empty": (b"", "video/mp4"),
        "text": (b"just some text, not a video", "video/mp4"),
        "truncated signed": (signed[:100], "video/mp4"),
        "unsupported type": (video, "video/webm"),
        "garbage jpeg": (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg"),
    }
    states = {name: read_provenance(data, mime, trust_anchors_pem=None) for name, (data, mime) in cases.items()}
    assert states["empty"].state == "not_present"
    assert states["text"].state == "not_present"
    assert states["unsupported type"].state == "not_present"
    assert states["unsupported type"].validation_codes == ["hallmark.format.unsupported"]
    assert states["truncated signed"].state == "invalid"  # a manifest is there, but cut short
    assert states["garbage jpeg"].state in ("not_present", "invalid")
    with pytest.raises(TypeError):
        read_provenance("not bytes", "video/mp4", trust_anchors_pem=None)


@pytest.mark.parametrize("fmt, mime", [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_still_images_sign_and_read(fmt, mime, claim, material, root_pem):
    out = io.BytesIO()
    Image.fromarray(np.full((64, 96, 3), 120, np.uint8)).save(out, format=fmt)
    signed_image = sign_asset(out.getvalue(), mime, build_manifest(claim, mime=mime), material)
    report = read_provenance(signed_image, mime, trust_anchors_pem=root_pem)
    assert report.state == "trusted"
    assert report.manifest_json["manifests"][report.active_manifest_id].get("format", mime) == mime
    assert decode_media(signed_image).frames.shape == (1, 64, 96, 3)


def test_signing_errors_are_typed(video, claim, material):
    with pytest.raises(SigningError, match="video/webm"):
        sign_asset(video, "video/webm", build_manifest(claim), material)
    with pytest.raises(SigningError):
        sign_asset(b"", "video/mp4", build_manifest(claim), material)
    with pytest.raises(SigningError):
        sign_asset(b"definitely not an mp4", "video/mp4", build_manifest(claim), material)


# --- a second, independent C2PA implementation agrees -------------------------------


def test_independent_verifier_agrees(signed, root_pem, tmp_path, monkeypatch):
    encypher = pytest.importorskip("encypher_c2pa", reason="optional cross-check: pip install encypher-c2pa")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # keep its preference file out of $HOME

    def verify(data: bytes, anchors: str | None) -> str:
        report = encypher.verify(data, "video/mp4", trust_pem=anchors, no_default_trust=True, telemetry=False, online=False)
        return report["validation_state"]

    assert verify(signed, root_pem) == "Trusted"
    assert verify(signed, None) == "Valid"
    assert verify(flip_byte_in_box(signed, "mdat"), root_pem) == "Invalid"
