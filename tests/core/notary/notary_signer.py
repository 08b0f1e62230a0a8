"""A Notary Project signer for tests, on ``cryptography``: a CA, a code-signing leaf, JWS envelopes in
notation's format, and pushing them as signature manifests (OCI referrers, written to the referrers tag
schema since the test registry has no referrers API).

Imported by name (the tests directory is not a package).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
SIGNATURE = "application/vnd.cncf.notary.signature"
JWS = "application/jose+json"
PAYLOAD = "application/vnd.cncf.notary.payload.v1+json"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
_RSA_ALG = {2048: ("PS256", hashes.SHA256), 3072: ("PS384", hashes.SHA384), 4096: ("PS512", hashes.SHA512)}
_EC_ALG = {"secp256r1": ("ES256", hashes.SHA256, 32), "secp384r1": ("ES384", hashes.SHA384, 48),
           "secp521r1": ("ES512", hashes.SHA512, 66)}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key(kind: str = "ec256"):
    if kind.startswith("rsa"):
        return rsa.generate_private_key(65537, int(kind[3:]))
    return ec.generate_private_key({"ec256": ec.SECP256R1(), "ec384": ec.SECP384R1(), "ec521": ec.SECP521R1()}[kind])


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "verno tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def certificate(subject_key, cn: str, *, issuer_key=None, issuer: x509.Certificate | None = None, ca: bool = False,
                path_length: int | None = None, eku: list | None = None, key_usage: dict | None = None,
                not_before: datetime | None = None, not_after: datetime | None = None,
                extensions: list[tuple[Any, bool]] = ()) -> x509.Certificate:
    """A certificate: a CA (keyCertSign) or a leaf (digitalSignature, codeSigning EKU unless ``eku``)."""
    builder = (x509.CertificateBuilder().subject_name(_name(cn))
               .issuer_name(issuer.subject if issuer else _name(cn)).public_key(subject_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - timedelta(days=1))
               .not_valid_after(not_after or NOW + timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True))
    usage = dict(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                 encipher_only=False, decipher_only=False)
    usage.update(key_usage or {})
    builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(eku if eku is not None else [ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(issuer_key or subject_key, hashes.SHA256())


def pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certs)


@dataclass
class Signer:
    key: Any
    chain: list[x509.Certificate]
    root: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.root = self.chain[-1]

    @property
    def alg(self) -> str:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return _RSA_ALG[self.key.key_size][0]
        return _EC_ALG[self.key.curve.name][0]

    def raw_sign(self, message: bytes, alg: str | None = None) -> bytes:
        alg = alg or self.alg
        digest = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[alg[2:]]()
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(message, padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
        der = self.key.sign(message, ec.ECDSA(digest))
        r, s = decode_dss_signature(der)
        size = _EC_ALG[self.key.curve.name][2]
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    def envelope(self, target: dict[str, Any], *, scheme: str = "notary.x509", signing_time: datetime | None = None,
                 expiry: datetime | None = None, protected: dict[str, Any] | None = None,
                 crit: list[str] | None = None, payload: bytes | None = None, alg: str | None = None,
                 timestamp: bytes | None = None, chain: list[x509.Certificate] | None = None) -> bytes:
        """A JWS envelope as notation writes it, over ``{"targetArtifact": target}``."""
        when = (signing_time or NOW).strftime("%Y-%m-%dT%H:%M:%SZ")
        headers: dict[str, Any] = {"alg": alg or self.alg, "cty": PAYLOAD, "io.cncf.notary.signingScheme": scheme}
        critical = ["io.cncf.notary.signingScheme"]
        if scheme == "notary.x509":
            headers["io.cncf.notary.signingTime"] = when
        else:
            headers["io.cncf.notary.authenticSigningTime"] = when
            critical.append("io.cncf.notary.authenticSigningTime")
        if expiry is not None:
            headers["io.cncf.notary.expiry"] = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
            critical.append("io.cncf.notary.expiry")
        headers.update(protected or {})
        headers["crit"] = crit if crit is not None else critical
        body = payload if payload is not None else json.dumps({"targetArtifact": target}).encode()
        protected_b64, payload_b64 = b64url(json.dumps(headers).encode()), b64url(body)
        signature = self.raw_sign(f"{protected_b64}.{payload_b64}".encode(), alg)
        header: dict[str, Any] = {"x5c": [base64.b64encode(c.public_bytes(Encoding.DER)).decode()
                                          for c in (chain or self.chain)],
                                  "io.cncf.notary.signingAgent": "verno-tests/1"}
        if timestamp is not None:
            header["io.cncf.notary.timestampSignature"] = base64.b64encode(timestamp).decode()
        return json.dumps({"payload": payload_b64, "protected": protected_b64, "header": header,
                           "signature": b64url(signature)}).encode()


def pki(kind: str = "ec256", *, intermediate: bool = False, **leaf: Any) -> Signer:
    """A root CA (and an intermediate) and a code-signing leaf of key type ``kind``."""
    root_key = new_key("ec384")
    ca_life = dict(not_before=NOW - timedelta(days=365), not_after=NOW + timedelta(days=365))
    root = certificate(root_key, "root", ca=True, **ca_life)
    issuer_key, issuer, chain = root_key, root, [root]
    if intermediate:
        inter_key = new_key("ec256")
        inter = certificate(inter_key, "intermediate", issuer_key=root_key, issuer=root, ca=True, path_length=0,
                            **ca_life)
        issuer_key, issuer, chain = inter_key, inter, [inter, root]
    key = new_key(kind)
    cert = certificate(key, "signer", issuer_key=issuer_key, issuer=issuer, **leaf)
    return Signer(key, [cert, *chain])


def describe(pusher, repo: str, ref: str) -> dict[str, Any]:
    """The descriptor (mediaType, digest, size) of a manifest, as the registry serves it."""
    r = pusher.http.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
    assert r.status_code == 200, r.text
    return {"mediaType": r.headers["content-type"], "digest": r.headers["docker-content-digest"],
            "size": len(r.content)}


def add_referrer(pusher, repo: str, subject_digest: str, desc: dict[str, Any]) -> None:
    """Append ``desc`` to the referrers tag schema index of ``subject_digest`` (read-modify-write)."""
    tag = subject_digest.replace(":", "-", 1)
    r = pusher.http.get(f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_INDEX})
    index = r.json() if r.status_code == 200 else {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    index["manifests"].append(desc)
    pusher.manifest(repo, tag, index, OCI_INDEX)


def push_artifact(pusher, repo: str, subject: dict[str, Any], artifact_type: str, layer_type: str, data: bytes,
                  *, index: bool = True, manifest_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OCI 1.1 artifact manifest (empty config, one layer) whose subject is ``subject``; listed in the
    subject's referrers tag index unless ``index`` is false. Returns its descriptor (with artifactType)."""
    empty = pusher.blob(repo, b"{}")
    layer = pusher.blob(repo, data)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                "config": {"mediaType": EMPTY, **empty}, "layers": [{"mediaType": layer_type, **layer}],
                "subject": subject, **(manifest_extra or {})}
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    digest = pusher.manifest(repo, digest_tag(raw), manifest)
    desc = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(raw), "artifactType": artifact_type}
    if index:
        add_referrer(pusher, repo, subject["digest"], desc)
    return desc


def digest_tag(raw: bytes) -> str:
    import hashlib

    return "art-" + hashlib.sha256(raw).hexdigest()[:20]


def push_signature(pusher, repo: str, subject: dict[str, Any], envelope: bytes, media_type: str = JWS,
                   **kw: Any) -> dict[str, Any]:
    return push_artifact(pusher, repo, subject, SIGNATURE, media_type, envelope, **kw)
