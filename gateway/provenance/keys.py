"""Signing keys and certificates for C2PA: the development CA, operator-provided chains, and their checks.

Every check explains itself: a certificate that c2pa-rs would refuse at signing time
is refused here first, with the rule it breaks and what to do about it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import ObjectIdentifier
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

try:  # POSIX only; without it concurrent first starts could race on creating the dev CA.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

__all__ = [
    "ProvenanceKeyError",
    "SigningMaterial",
    "ALLOWED_SIGNER_EKUS",
    "DEV_ROOT_CERT_FILE",
    "DEV_ROOT_KEY_FILE",
    "DEV_SIGNER_CERT_FILE",
    "DEV_SIGNER_KEY_FILE",
    "ensure_dev_ca",
    "load_signing_material",
    "describe_material",
    "end_entity_profile_problems",
]

DEV_ROOT_CERT_FILE = "dev-root-ca.pem"
DEV_ROOT_KEY_FILE = "dev-root-ca.key"
DEV_SIGNER_CERT_FILE = "dev-signer.pem"
DEV_SIGNER_KEY_FILE = "dev-signer.key"

# Without a timestamp authority a signed file validates only while the signing
# certificate is valid (afterwards: signingCredential.expired). One year is a
# development compromise; production deployments should sign with a TSA.
DEV_SIGNER_VALIDITY = dt.timedelta(days=365)
DEV_ROOT_VALIDITY = dt.timedelta(days=3650)
RENEW_BEFORE_EXPIRY = dt.timedelta(days=7)
CLOCK_SKEW = dt.timedelta(minutes=5)

C2PA_CLAIM_SIGNING = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
MS_C2PA_SIGNING = ObjectIdentifier("1.3.6.1.4.1.311.76.59.1.9")

# EKUs a C2PA claim signer may carry. c2pa-rs accepts emailProtection with its
# default settings; the others need `trust.trust_config` listing them, which the
# signing and reading contexts in this package always set (see c2pa_trust_config()).
ALLOWED_SIGNER_EKUS: dict[ObjectIdentifier, str] = {
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    DOCUMENT_SIGNING: "documentSigning",
    C2PA_CLAIM_SIGNING: "c2pa-kp-claimSigning",
    MS_C2PA_SIGNING: "ms-c2pa-signing",
}


def c2pa_trust_config() -> str:
    """The `trust.trust_config` text for c2pa-rs: one allowed EKU OID per line."""
    return "\n".join(oid.dotted_string for oid in ALLOWED_SIGNER_EKUS) + "\n"


class ProvenanceKeyError(Exception):
    """Signing keys or certificates are missing, unreadable, mismatched or not C2PA-conformant."""


@dataclass(frozen=True)
class SigningMaterial:
    """A C2PA signer's credentials, PEM-encoded.

    ``cert_chain_pem`` holds the end-entity certificate first, then any intermediates,
    never the root. ``root_pem`` is the development root (None for operator material);
    it is informational and becomes a trust anchor only where the caller decides so.
    """

    cert_chain_pem: bytes
    private_key_pem: bytes
    root_pem: bytes | None = None
    alg: str = "es256"
    # A key held elsewhere (KMS/HSM): signs the bytes c2pa-rs hands over; ``private_key_pem`` is then empty.
    sign: Callable[[bytes], bytes] | None = None

    def __repr__(self) -> str:  # never print the private key
        root = "yes" if self.root_pem else "no"
        return f"SigningMaterial(alg={self.alg!r}, chain={len(self.certificates())} cert(s), root={root})"

    def certificates(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.cert_chain_pem)

    @property
    def end_entity(self) -> x509.Certificate:
        return self.certificates()[0]


# ---------------------------------------------------------------------------
# Checks


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _ext(cert: x509.Certificate, ext_type: type) -> x509.Extension | None:
    try:
        return cert.extensions.get_extension_for_class(ext_type)
    except x509.ExtensionNotFound:
        return None


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _key_problem(public_key) -> str | None:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            return f"EC curve {public_key.curve.name} is not allowed (use P-256, P-384 or P-521)"
        return None
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            return f"RSA key of {public_key.key_size} bits is too short (at least 2048)"
        return None
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return None
    return f"key type {type(public_key).__name__} is not allowed (use EC P-256/384/521, RSA >= 2048 or Ed25519)"


def end_entity_profile_problems(cert: x509.Certificate, *, now: dt.datetime | None = None) -> list[str]:
    """Every way ``cert`` breaks the C2PA end-entity (claim signer) certificate profile; empty when it conforms."""
    now = _now(now)
    problems: list[str] = []
    if cert.version != x509.Version.v3:
        problems.append("it is not an X.509 v3 certificate")
    if _is_self_signed(cert):
        problems.append(
            "it is self-signed; a C2PA signer must be issued by a CA (use a root or intermediate to issue it)"
        )
    basic = _ext(cert, x509.BasicConstraints)
    if basic is not None and basic.value.ca:
        problems.append(
            "it is a CA certificate (BasicConstraints ca=True); a claim signer must be an end-entity certificate"
        )
    if _ext(cert, x509.AuthorityKeyIdentifier) is None:
        problems.append("it lacks the AuthorityKeyIdentifier extension")
    usage = _ext(cert, x509.KeyUsage)
    if usage is None:
        problems.append("it lacks the KeyUsage extension (digitalSignature is required)")
    else:
        if not (usage.value.digital_signature or usage.value.content_commitment):
            problems.append("its KeyUsage allows neither digitalSignature nor nonRepudiation")
        if usage.value.key_cert_sign:
            problems.append("its KeyUsage allows keyCertSign, which a claim signer must not")
    eku = _ext(cert, x509.ExtendedKeyUsage)
    if eku is None:
        problems.append(
            "it lacks the ExtendedKeyUsage extension (use emailProtection, documentSigning or c2pa-kp-claimSigning)"
        )
    else:
        oids = list(eku.value)
        if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in oids:
            problems.append("its ExtendedKeyUsage contains anyExtendedKeyUsage, which C2PA forbids")
        if not any(oid in ALLOWED_SIGNER_EKUS for oid in oids):
            names = ", ".join(oid.dotted_string for oid in oids) or "none"
            problems.append(
                f"its ExtendedKeyUsage ({names}) has none of emailProtection, documentSigning, c2pa-kp-claimSigning"
            )
    problem = _key_problem(cert.public_key())
    if problem:
        problems.append(problem)
    if now < cert.not_valid_before_utc:
        problems.append(f"it is not valid before {cert.not_valid_before_utc.isoformat()}")
    if now > cert.not_valid_after_utc:
        problems.append(f"it expired on {cert.not_valid_after_utc.isoformat()}")
    return problems


def _public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _alg_for(private_key) -> str:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}[private_key.curve.name]
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "ps256"  # C2PA allows RSA only with PSS
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise ProvenanceKeyError(f"Unsupported private key type {type(private_key).__name__}")


def _validate(chain: list[x509.Certificate], private_key, *, source: str, now: dt.datetime | None = None) -> None:
    end_entity = chain[0]
    if _public_der(private_key.public_key()) != _public_der(end_entity.public_key()):
        raise ProvenanceKeyError(
            f"{source}: the private key does not match the signing certificate "
            f"(subject {end_entity.subject.rfc4514_string()}); point the key path at the key that certificate "
            "was issued for."
        )
    problems = end_entity_profile_problems(end_entity, now=now)
    if problems:
        raise ProvenanceKeyError(
            f"{source}: the signing certificate {end_entity.subject.rfc4514_string()} does not meet the C2PA "
            "end-entity profile: " + "; ".join(problems) + "."
        )
    for child, parent in zip(chain, chain[1:]):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise ProvenanceKeyError(
                f"{source}: the chain is out of order or broken: {child.subject.rfc4514_string()} was not issued by "
                f"{parent.subject.rfc4514_string()} ({exc or 'signature does not verify'}); list the end-entity "
                "certificate first, then each issuing intermediate."
            ) from exc


# ---------------------------------------------------------------------------
# Files


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ProvenanceKeyError(f"The {what} file {path} does not exist; check the configured path.") from None
    except IsADirectoryError:
        raise ProvenanceKeyError(f"The {what} path {path} is a directory, not a file.") from None
    except PermissionError:
        raise ProvenanceKeyError(
            f"The {what} file {path} is not readable by this process (user id {os.getuid()}); fix its permissions."
        ) from None
    except OSError as exc:
        raise ProvenanceKeyError(f"Cannot read the {what} file {path}: {exc}") from exc


def _parse_certs(data: bytes, path: Path) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ProvenanceKeyError(
            f"The certificate file {path} holds no readable PEM certificate ({exc}); it must contain "
            "'-----BEGIN CERTIFICATE-----' blocks, end-entity first."
        ) from exc
    if not certs:
        raise ProvenanceKeyError(f"The certificate file {path} holds no PEM certificate.")
    return certs


def _parse_key(data: bytes, path: Path):
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise ProvenanceKeyError(
            f"The private key {path} is encrypted; provide an unencrypted PEM key protected by file permissions (0600)."
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ProvenanceKeyError(f"The private key file {path} is not a readable PEM private key ({exc}).") from exc
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise ProvenanceKeyError(
            f"The private key {path} is a {type(key).__name__}; use EC P-256/384/521, RSA >= 2048 or Ed25519."
        )
    return key


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Write atomically with ``mode`` from the first byte (never briefly world-readable)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.replace(tmp, path)


def load_external_signer(cert_chain_path: Path, spec: str) -> SigningMaterial:
    """The signing chain from a file, the key behind ``spec`` (``module:callable``, HALLMARK_SIGNER): the callable is
    called once, with no arguments, and returns the function that signs — it receives the bytes to sign (not a
    digest) and returns the signature (ECDSA: DER or raw r‖s; RSA: PSS with MGF1-SHA256 and a 32-byte salt), e.g.
    through a KMS or HSM client. The algorithm follows the certificate's key."""
    import importlib

    cert_chain_path = Path(cert_chain_path)
    chain = _parse_certs(_read(cert_chain_path, "signing certificate chain"), cert_chain_path)
    if len(chain) > 1 and _is_self_signed(chain[-1]):
        chain = chain[:-1]
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
        sign = factory()
    except Exception as exc:  # the operator's module: say which setting names it
        raise ProvenanceKeyError(f"HALLMARK_SIGNER={spec!r} could not be loaded: {type(exc).__name__}: {exc}") from exc
    if not callable(sign):
        raise ProvenanceKeyError(f"HALLMARK_SIGNER={spec!r} returned {type(sign).__name__}, not a signing function")
    public = chain[0].public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        alg = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}[public.curve.name]
    elif isinstance(public, rsa.RSAPublicKey):
        alg = "ps256"
    elif isinstance(public, ed25519.Ed25519PublicKey):
        alg = "ed25519"
    else:
        raise ProvenanceKeyError(f"{cert_chain_path}: unsupported key type {type(public).__name__}")
    return SigningMaterial(cert_chain_pem=b"".join(_cert_pem(c) for c in chain), private_key_pem=b"", root_pem=None,
                           alg=alg, sign=sign)


def load_signing_material(cert_chain_path: Path, key_path: Path) -> SigningMaterial:
    """Load an operator's PEM certificate chain (end-entity first) and PEM private key, and validate them.

    A self-signed root at the end of the chain is dropped (C2PA embeds the chain without
    its trust anchor); the result's ``root_pem`` is None: trust is configured separately.

    Raises:
        ProvenanceKeyError: a file is missing or unreadable, the key does not match the
            certificate, the chain is broken, or the certificate breaks the C2PA profile.
    """
    cert_chain_path, key_path = Path(cert_chain_path), Path(key_path)
    chain = _parse_certs(_read(cert_chain_path, "signing certificate chain"), cert_chain_path)
    key = _parse_key(_read(key_path, "signing private key"), key_path)
    if len(chain) > 1 and _is_self_signed(chain[-1]):
        logger.info("Dropping the self-signed root %s from the signing chain", chain[-1].subject.rfc4514_string())
        chain = chain[:-1]
    _validate(chain, key, source=f"{cert_chain_path}")
    if key_path.exists() and os.name == "posix" and key_path.stat().st_mode & 0o077:
        logger.warning("The signing key %s is readable by group or others; restrict it to 0600.", key_path)
    return SigningMaterial(
        cert_chain_pem=b"".join(_cert_pem(c) for c in chain),
        private_key_pem=_key_pem(key),
        root_pem=None,
        alg=_alg_for(key),
    )


# ---------------------------------------------------------------------------
# Development CA


@contextlib.contextmanager
def _locked(keys_dir: Path):
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(keys_dir / ".lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _new_root(organization: str, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} Development Root CA"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + DEV_ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_signer(
    organization: str, root: x509.Certificate, root_key, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} C2PA Signer"),
        ]
    )
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    not_after = min(now + DEV_SIGNER_VALIDITY, root.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return cert, key


def _load_pair(cert_path: Path, key_path: Path):
    """Load a (certificate, key) pair written by ensure_dev_ca, or None where either file is absent."""
    if not cert_path.exists() or not key_path.exists():
        return None
    cert = _parse_certs(_read(cert_path, "development certificate"), cert_path)[0]
    key = _parse_key(_read(key_path, "development private key"), key_path)
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        return None
    if os.name == "posix" and key_path.stat().st_mode & 0o077:
        logger.warning("Tightening permissions of %s to 0600", key_path)
        os.chmod(key_path, 0o600)
    return cert, key


def _fresh(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now + CLOCK_SKEW and now + RENEW_BEFORE_EXPIRY < cert.not_valid_after_utc


def ensure_dev_ca(
    keys_dir: Path, *, organization: str = "Hallmark Dev", now: dt.datetime | None = None
) -> SigningMaterial:
    """Create (first call) or load (later calls) a development root CA and an ES256 C2PA signing certificate.

    Files under ``keys_dir``: ``dev-root-ca.pem``/``dev-root-ca.key`` (10-year root) and
    ``dev-signer.pem``/``dev-signer.key`` (1-year end-entity: not a CA, AKI+SKI, KeyUsage
    digitalSignature, EKU emailProtection). Private keys are written with mode 0600.
    The signer is re-issued when it is expired, within 7 days of expiry, or no longer
    matches the root; the root is re-created only when it is itself near expiry or broken.

    Without a timestamp authority, a file signed by this certificate turns invalid
    (``signingCredential.expired``) once the certificate expires.

    ``now`` exists for tests; it must be timezone-aware.
    """
    now = _now(now)
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    root_cert_path, root_key_path = keys_dir / DEV_ROOT_CERT_FILE, keys_dir / DEV_ROOT_KEY_FILE
    signer_cert_path, signer_key_path = keys_dir / DEV_SIGNER_CERT_FILE, keys_dir / DEV_SIGNER_KEY_FILE

    with _locked(keys_dir):
        try:
            root_pair = _load_pair(root_cert_path, root_key_path)
            signer_pair = _load_pair(signer_cert_path, signer_key_path)
        except ProvenanceKeyError as exc:
            raise ProvenanceKeyError(
                f"{exc} The development CA in {keys_dir} is damaged; remove that directory to create a fresh one "
                "(files signed under the old root will no longer be trusted in dev mode)."
            ) from exc
        if root_pair is None and (root_cert_path.exists() or root_key_path.exists()):
            logger.warning(
                "The development root CA files in %s are incomplete or do not match each other; creating a new root. "
                "Files signed under the old root are no longer trusted in dev mode.",
                keys_dir,
            )
        if root_pair is not None and not _fresh(root_pair[0], now):
            logger.warning(
                "The development root CA in %s expires on %s; creating a new one. Files signed under the old "
                "root are no longer trusted in dev mode.",
                keys_dir,
                root_pair[0].not_valid_after_utc.isoformat(),
            )
            root_pair = None
        new_root = root_pair is None
        if new_root:
            root_pair = _new_root(organization, now)
            _write_file(root_key_path, _key_pem(root_pair[1]), 0o600)
            _write_file(root_cert_path, _cert_pem(root_pair[0]), 0o644)
            logger.info("Created development root CA %s", root_cert_path)
        root, root_key = root_pair

        if new_root:
            signer_pair = None
        if signer_pair is not None:
            cert = signer_pair[0]
            try:
                cert.verify_directly_issued_by(root)
                issued_by_root = True
            except (ValueError, TypeError, InvalidSignature):
                issued_by_root = False
            if not issued_by_root or not _fresh(cert, now) or end_entity_profile_problems(cert, now=now):
                signer_pair = None
        if signer_pair is None:
            signer_pair = _new_signer(organization, root, root_key, now)
            _write_file(signer_key_path, _key_pem(signer_pair[1]), 0o600)
            _write_file(signer_cert_path, _cert_pem(signer_pair[0]), 0o644)
            logger.info("Issued development C2PA signing certificate %s", signer_cert_path)

    signer_cert, signer_key = signer_pair
    _validate([signer_cert], signer_key, source=str(signer_cert_path), now=now)
    return SigningMaterial(
        cert_chain_pem=_cert_pem(signer_cert),
        private_key_pem=_key_pem(signer_key),
        root_pem=_cert_pem(root),
        alg="es256",
    )


def _name_attr(name: x509.Name, oid: ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def describe_material(m: SigningMaterial, *, now: dt.datetime | None = None) -> dict:
    """A JSON-ready summary of signing material (never the private key), for `hallmark keys show`."""
    now = _now(now)
    chain = m.certificates()
    ee = chain[0]
    eku = _ext(ee, x509.ExtendedKeyUsage)
    info = {
        "alg": m.alg,
        "subject": ee.subject.rfc4514_string(),
        "organization": _name_attr(ee.subject, NameOID.ORGANIZATION_NAME),
        "common_name": _name_attr(ee.subject, NameOID.COMMON_NAME),
        "issuer": ee.issuer.rfc4514_string(),
        "serial": format(ee.serial_number, "x"),
        "not_before": ee.not_valid_before_utc.isoformat(),
        "not_after": ee.not_valid_after_utc.isoformat(),
        "days_left": (ee.not_valid_after_utc - now).days,
        "sha256_fingerprint": ee.fingerprint(hashes.SHA256()).hex(),
        "extended_key_usage": [ALLOWED_SIGNER_EKUS.get(o, o.dotted_string) for o in eku.value] if eku else [],
        "chain_length": len(chain),
        "profile_problems": end_entity_profile_problems(ee, now=now),
        "root": None,
    }
    if m.root_pem:
        root = x509.load_pem_x509_certificate(m.root_pem)
        info["root"] = {
            "subject": root.subject.rfc4514_string(),
            "not_after": root.not_valid_after_utc.isoformat(),
            "sha256_fingerprint": root.fingerprint(hashes.SHA256()).hex(),
        }
    return info
