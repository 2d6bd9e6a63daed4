"""RFC 3161 time-stamped signatures: real c2pa-rs, a real time-stamp authority on loopback (OpenSSL's ``ts``), real
MP4s, a real gateway; no mocks.

c2pa-rs sends the time-stamp query itself (HTTP POST, ``application/timestamp-query``) while it signs; when it reads
the manifest it checks the token against the signature and the TSA's chain against the same trust anchors as the
signer's, and, for a trusted token, checks the signing certificate's validity at the token's time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from gateway.core.settings import Settings
from gateway.media import encode_mp4
from gateway.provenance import (
    GenerationClaim,
    SigningError,
    SigningMaterial,
    build_manifest,
    content_id_binding_value,
    ensure_dev_ca,
    read_provenance,
    sign_asset,
)

UTC = dt.timezone.utc
OPENSSL = shutil.which("openssl")
C2PA_CLAIM_SIGNING = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
KEY = "hm-ts-tenant"

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the local time-stamp authority needs the openssl command")


# --- certificates -------------------------------------------------------------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(key, org: str, cn: str, *, issuer: x509.Certificate | None = None, issuer_key=None, ca: bool = False,
          eku: list | None = None, not_after: dt.datetime | None = None) -> x509.Certificate:
    now = dt.datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(not_after or now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key((issuer_key or key).public_key()),
                       critical=False)
    )
    if eku:
        # RFC 3161 §2.3: a TSA certificate's only EKU is timeStamping, marked critical (openssl ts insists).
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    return builder.sign(issuer_key or key, hashes.SHA256())


# --- a time-stamp authority on loopback ---------------------------------------------------------------------------


@dataclass
class LocalTSA:
    """An RFC 3161 TSA at ``url``: each POSTed query is answered by ``openssl ts -reply``, signed by a TSA certificate
    (EKU timeStamping) under its own root, ``root_pem``. ``issued`` holds the genTime of every token handed out."""

    url: str
    root_pem: str
    issued: list[dt.datetime] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)


def _openssl_config(folder: Path) -> str:
    # One TSA section per openssl-ts(1); ESSCertIDv2 (SHA-256) binds the token to the TSA certificate, as RFC 5816
    # and c2pa-rs expect.
    return f"""
[tsa]
default_tsa = hallmark_test_tsa
[hallmark_test_tsa]
dir = {folder}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/chain.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.4146.2.3
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _gen_time(folder: Path, reply: Path) -> dt.datetime:
    text = subprocess.run([OPENSSL, "ts", "-reply", "-in", str(reply), "-text"], capture_output=True, text=True,
                          check=True).stdout
    line = next(line for line in text.splitlines() if line.startswith("Time stamp:"))
    stamp = " ".join(line.split(":", 1)[1].split())  # "Dec 6 15:10:59 2026 GMT"
    return dt.datetime.strptime(stamp, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=UTC)


@contextmanager
def local_tsa() -> Iterator[LocalTSA]:
    folder = Path(tempfile.mkdtemp(prefix="hallmark-tsa-"))
    root_key, tsa_key = _key(), _key()
    root = _cert(root_key, "Test Time Authority", "Test TSA Root", ca=True)
    tsa_cert = _cert(tsa_key, "Test Time Authority", "Test TSA", issuer=root, issuer_key=root_key,
                     eku=[ExtendedKeyUsageOID.TIME_STAMPING])
    (folder / "tsa.pem").write_bytes(_pem(tsa_cert))
    (folder / "tsa.key").write_bytes(_key_pem(tsa_key))
    (folder / "chain.pem").write_bytes(_pem(tsa_cert) + _pem(root))
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(_openssl_config(folder))
    lock = threading.Lock()  # openssl ts rewrites the serial file and our query/reply files
    tsa = LocalTSA(url="", root_pem=_pem(root).decode())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                tsa.content_types.append(self.headers.get("Content-Type", ""))
                (folder / "query.tsq").write_bytes(query)
                done = subprocess.run([OPENSSL, "ts", "-reply", "-config", str(folder / "tsa.cnf"),
                                       "-queryfile", str(folder / "query.tsq"), "-out", str(folder / "reply.tsr")],
                                      capture_output=True, check=False)
                if done.returncode != 0:
                    self.send_error(400, done.stderr.decode(errors="replace")[:200])
                    return
                reply = (folder / "reply.tsr").read_bytes()
                tsa.issued.append(_gen_time(folder, folder / "reply.tsr"))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    tsa.url = f"http://127.0.0.1:{server.server_address[1]}/tsa"
    try:
        yield tsa
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        shutil.rmtree(folder, ignore_errors=True)


# --- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tsa() -> Iterator[LocalTSA]:
    with local_tsa() as authority:
        yield authority


@pytest.fixture(scope="module")
def material(tmp_path_factory) -> SigningMaterial:
    return ensure_dev_ca(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def manifest() -> dict:
    claim = GenerationClaim(
        content_id=0x0F1E2D3C4B5A6978, video_id="video_ts01", model="hallmark-dit-tiny", model_version="0.1.0",
        seed=7, policy="default@2026.11", decision_id="dec_ts01",
        prompt_sha256=hashlib.sha256(b"a lighthouse at dusk").hexdigest(), created_at=dt.datetime.now(UTC),
        tenant="tenant-ts", watermark_alg="com.hallmark.watermark.v1",
        watermark_value=content_id_binding_value(0x0F1E2D3C4B5A6978), software_version="0.1.0",
    )
    return build_manifest(claim)


@pytest.fixture(scope="module")
def video() -> bytes:
    t = np.arange(12)[:, None, None]
    x = np.arange(64)[None, None, :]
    y = np.arange(64)[None, :, None]
    frames = np.stack(np.broadcast_arrays((x * 3 + t * 7) % 256, (y * 3 + 0 * t + 0 * x) % 256, (x + y) % 256), -1)
    return encode_mp4(frames.astype(np.uint8), 12.0)


def _codes(report, kind: str) -> set[str]:
    results = (report.manifest_json.get("validation_results") or {}).get("activeManifest") or {}
    return {entry["code"] for entry in results.get(kind, [])}


# --- signing with a TSA --------------------------------------------------------------------------------------------


def test_a_time_stamped_signature_reports_the_tsa_time_as_signed_at(tsa, material, manifest, video):
    before = len(tsa.issued)
    signed = sign_asset(video, "video/mp4", manifest, material, tsa_url=tsa.url)
    assert len(tsa.issued) == before + 1, "c2pa-rs asks the TSA once per signature"
    assert tsa.content_types[-1] == "application/timestamp-query"
    gen_time = tsa.issued[-1]

    anchors = material.root_pem.decode() + tsa.root_pem
    report = read_provenance(signed, "video/mp4", trust_anchors_pem=anchors)
    assert report.state == "trusted" and report.validation_codes == []
    assert report.time_stamped is True and report.time_stamp_trusted is True
    assert dt.datetime.fromisoformat(report.signed_at) == gen_time  # the token's genTime, not the local clock
    assert {"timeStamp.validated", "timeStamp.trusted"} <= _codes(report, "success")

    # A TSA outside the anchors: the token still matches the signature, but its time vouches for nothing;
    # c2pa-rs says so as information only, so the signer's own trust decides the state.
    untrusted_tsa = read_provenance(signed, "video/mp4", trust_anchors_pem=material.root_pem.decode())
    assert untrusted_tsa.state == "trusted" and untrusted_tsa.validation_codes == []
    assert untrusted_tsa.time_stamped is True and untrusted_tsa.time_stamp_trusted is False
    assert "timeStamp.untrusted" in _codes(untrusted_tsa, "informational")

    no_anchors = read_provenance(signed, "video/mp4", trust_anchors_pem=None)
    assert no_anchors.state == "valid" and no_anchors.time_stamped and not no_anchors.time_stamp_trusted


def test_without_a_tsa_there_is_no_signed_at(tsa, material, manifest, video):
    signed = sign_asset(video, "video/mp4", manifest, material)
    report = read_provenance(signed, "video/mp4", trust_anchors_pem=material.root_pem.decode() + tsa.root_pem)
    assert report.state == "trusted"
    assert report.signed_at is None and report.time_stamped is False and report.time_stamp_trusted is False
    assert report.to_dict()["time_stamped"] is False


def test_an_unreachable_tsa_fails_the_signature_and_names_the_setting(material, manifest, video):
    with local_tsa() as gone:
        url = gone.url  # closed when the block ends: nothing listens there any more
    with pytest.raises(SigningError) as refused:
        sign_asset(video, "video/mp4", manifest, material, tsa_url=url)
    assert url in str(refused.value) and "HALLMARK_TSA_URL" in str(refused.value)


def test_a_trusted_time_stamp_keeps_the_manifest_valid_after_the_certificate_expires(tsa, manifest, video):
    """The signing certificate expires seconds after signing; c2pa-rs then checks it at the token's time."""
    ca_key, signer_key = _key(), _key()
    ca = _cert(ca_key, "Short Lived Studio", "Short Lived Root", ca=True)
    expires = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(seconds=5)
    signer = _cert(signer_key, "Short Lived Studio", "Short Lived Signer", issuer=ca, issuer_key=ca_key,
                   eku=[C2PA_CLAIM_SIGNING], not_after=expires)
    material = SigningMaterial(cert_chain_pem=_pem(signer), private_key_pem=_key_pem(signer_key))
    stamped = sign_asset(video, "video/mp4", manifest, material, tsa_url=tsa.url)
    plain = sign_asset(video, "video/mp4", manifest, material)
    anchors = _pem(ca).decode() + tsa.root_pem
    assert read_provenance(plain, "video/mp4", trust_anchors_pem=anchors).state == "trusted"  # before expiry

    time.sleep(max(0.0, (expires - dt.datetime.now(UTC)).total_seconds()) + 1.5)

    kept = read_provenance(stamped, "video/mp4", trust_anchors_pem=anchors)
    assert kept.state == "trusted" and kept.validation_codes == []
    assert kept.time_stamp_trusted and dt.datetime.fromisoformat(kept.signed_at) < expires
    assert "claimSignature.insideValidity" in _codes(kept, "success")

    lapsed = read_provenance(plain, "video/mp4", trust_anchors_pem=anchors)
    assert lapsed.state == "invalid" and "signingCredential.expired" in lapsed.validation_codes
    assert lapsed.signed_at is None and not lapsed.time_stamped

    # The time-stamp counts only when its TSA is trusted: otherwise the certificate is checked at the current time.
    tsa_not_trusted = read_provenance(stamped, "video/mp4", trust_anchors_pem=_pem(ca).decode())
    assert tsa_not_trusted.state == "invalid" and "signingCredential.expired" in tsa_not_trusted.validation_codes
    assert tsa_not_trusted.time_stamped and not tsa_not_trusted.time_stamp_trusted


# --- through the gateway -------------------------------------------------------------------------------------------


def test_the_gateway_time_stamps_what_it_signs_with_hallmark_tsa_url(tmp_path, tsa, start_gateway):
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(tsa.root_pem)  # the dev root is trusted too (HALLMARK_TRUST_DEV_ROOT defaults to true)
    settings = Settings(data_dir=tmp_path / "data", api_keys=f"{KEY}:tenant-ts", tsa_url=tsa.url,
                        trust_anchors=anchors, default_size="128x128", default_seconds=1)
    issued_before = len(tsa.issued)
    with start_gateway(settings) as base, httpx.Client(base_url=base, timeout=60,
                                                       headers={"Authorization": f"Bearer {KEY}"}) as http:
        created = http.post("/v1/videos", files={"prompt": (None, "a paper boat drifting on a calm pond"),
                                                 "size": (None, "128x128"), "seconds": (None, "1"),
                                                 "seed": (None, "5")})
        assert created.status_code == 200, created.text
        deadline = time.monotonic() + 180
        while (video := http.get(f"/v1/videos/{created.json()['id']}").json())["status"] not in ("completed",
                                                                                                 "failed"):
            assert time.monotonic() < deadline, "the job did not finish in time"
            time.sleep(0.2)
        assert video["status"] == "completed", video
        mp4 = http.get(f"/v1/videos/{video['id']}/content").content
        checked = http.post("/v1/content_provenance_checks", files={"file": ("v.mp4", mp4, "video/mp4")})
    assert checked.status_code == 200, checked.text
    c2pa = checked.json()["results"][0]
    assert c2pa["validation_state"] == "trusted" and c2pa["time_stamped"] is True
    assert len(tsa.issued) == issued_before + 1
    assert dt.datetime.fromisoformat(c2pa["signed_at"]) == tsa.issued[-1]

    report = read_provenance(mp4, "video/mp4", trust_anchors_pem=None)
    assert report.time_stamped and report.signed_at == c2pa["signed_at"]
