"""C2PA Content Credentials signed in the test with a self-made certificate chain."""

from __future__ import annotations

import datetime
import io
import json

import pytest

from pixelsleuth.analyze import analyze_bytes
from pixelsleuth.forensics.provenance import C2paState, ProvenanceAnalyzer

from .conftest import jpeg_bytes, photo_like

c2pa = pytest.importorskip("c2pa")
x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pixelsleuth tests"),
        ]
    )


def _key_usage(sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not sign,
        crl_sign=not sign,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture(scope="module")
def signing():
    """A root CA and a leaf signing certificate (ES256), as C2PA requires."""
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Root"))
        .issuer_name(_name("Test Root"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(sign=False), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Signer"))
        .issuer_name(_name("Test Root"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, key_pem, ca.public_bytes(pem).decode()


def _sign(source: bytes, chain: bytes, key_pem: bytes) -> bytes:
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain, private_key=key_pem, ta_url=None)
    )
    manifest = {
        "claim_generator_info": [{"name": "pixelsleuth-test", "version": "1.0"}],
        "title": "signed.jpg",
        "format": "image/jpeg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": AI}]},
            }
        ],
    }
    out = io.BytesIO()
    with c2pa.Builder(json.dumps(manifest)) as builder:
        builder.sign(signer, "image/jpeg", io.BytesIO(source), out)
    return out.getvalue()


@pytest.fixture(scope="module")
def signed(signing):
    chain, key_pem, _ = signing
    return _sign(jpeg_bytes(photo_like(96, 128)), chain, key_pem)


def _provenance(data: bytes, trust: str | None = None):
    report = analyze_bytes(data, "c.jpg", [ProvenanceAnalyzer(trust_anchors=trust)])
    return report.findings[0]


def test_self_signed_credentials_read_as_valid_but_untrusted(signed):
    f = _provenance(signed)
    c = f.details["c2pa"]
    assert c["state"] is C2paState.UNTRUSTED
    assert "signingCredential.untrusted" in c["failures"]
    assert c["claim_generator"].startswith("pixelsleuth-test")
    assert c["signer"] == "Test Signer"
    assert c["digital_source_types"] == ["trainedAlgorithmicMedia"]
    assert "not trusted" in f.summary and "generative AI" in f.summary
    assert f.score > 0.9  # a declaration of AI is believed even from an untrusted signer


def test_credentials_read_as_trusted_with_the_ca_as_anchor(signing, signed):
    f = _provenance(signed, trust=signing[2])
    assert f.details["c2pa"]["state"] is C2paState.TRUSTED


def test_altered_pixels_read_as_tampered(signed):
    data = bytearray(signed)
    sos = data.rfind(b"\xff\xda")
    for i in range(sos + 40, sos + 60):  # inside the entropy-coded pixel data
        data[i] ^= 0x55
    f = _provenance(bytes(data))
    assert f.details["c2pa"]["state"] is C2paState.TAMPERED
    assert "assertion.dataHash.mismatch" in f.details["c2pa"]["failures"]
    assert any(e.code == "c2pa_tampered" for e in f.evidence)


def test_no_manifest_reads_as_none():
    f = _provenance(jpeg_bytes(photo_like()))
    assert f.details["c2pa"]["state"] is C2paState.NONE
    assert f.score is None


def test_iptc_digital_source_type_from_xmp():
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'Iptc4xmpExt:DigitalSourceType="{AI}"/></rdf:RDF></x:xmpmeta>'
    ).encode()
    jpeg = jpeg_bytes(photo_like())
    app1 = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    segment = b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1
    data = jpeg[:2] + segment + jpeg[2:]
    f = _provenance(data)
    assert f.details["iptc_digital_source_type"] == "trainedAlgorithmicMedia"
    assert f.score > 0.9 and "unsigned" in f.evidence[0].message


def test_trust_anchors_given_to_an_audit_reach_its_worker_processes(signing, signed, tmp_path):
    # the option travels inside the audit's Settings, not through the environment
    from .test_bad_input import run_cli

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "signed.jpg").write_bytes(signed)
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(signing[2])
    rows = {}
    for name, extra in (("plain", []), ("trusted", ["--c2pa-trust-anchors", str(anchors)])):
        out = tmp_path / f"{name}.jsonl"
        proc = run_cli(
            "audit", str(folder), "--out", str(out), "--workers", "2",
            "--analyzers", "provenance", *extra,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        rows[name] = json.loads(out.read_text())["findings"]["provenance"]["summary"]
    assert "not trusted" in rows["plain"]
    assert "not trusted" not in rows["trusted"] and "trusted" in rows["trusted"]
