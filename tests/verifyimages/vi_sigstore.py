"""A private Sigstore built offline: Fulcio-like CA, CT log and Rekor keys, a trusted root, and cosign v3
bundles (``application/vnd.dev.sigstore.bundle.v0.3+json``) with a DSSE in-toto statement, an embedded
SCT, and one Rekor ``dsse`` 0.0.1 entry (SET + a one-leaf Merkle inclusion proof + a signed checkpoint),
pushed as OCI 1.1 referrers through the tag-schema fallback."""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from vi_cosign import OCI_MANIFEST, Pusher, b64, sha
from vi_pki import CTLog, FulcioCA, Rekor, cert_pem, now, sign, spki_der

BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
TRUSTED_ROOT_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
INTOTO = "application/vnd.in-toto+json"
SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
ORIGIN = "rekor.test - 1"


def _pae(payload_type: str, body: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(body), body)


def _public_key(key) -> dict[str, Any]:
    return {"rawBytes": b64(spki_der(key.public_key())), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": "2000-01-01T00:00:00Z"}}


def _log(key, url: str) -> dict[str, Any]:
    return {"baseUrl": url, "hashAlgorithm": "SHA2_256", "publicKey": _public_key(key),
            "logId": {"keyId": b64(hashlib.sha256(spki_der(key.public_key())).digest())}}


@dataclass
class PrivateSigstore:
    fulcio: FulcioCA = field(default_factory=FulcioCA)
    ctlog: CTLog = field(default_factory=CTLog)
    rekor: Rekor = field(default_factory=Rekor)

    def trusted_root(self) -> dict[str, Any]:
        chain = [self.fulcio.intermediate, self.fulcio.root]
        return {
            "mediaType": TRUSTED_ROOT_TYPE,
            "tlogs": [_log(self.rekor.key, "https://rekor.test")],
            "certificateAuthorities": [{
                "subject": {"organization": "test", "commonName": "test-fulcio"}, "uri": "https://fulcio.test",
                "certChain": {"certificates": [
                    {"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))} for c in chain]},
                "validFor": {"start": "2000-01-01T00:00:00Z"}}],
            "ctlogs": [_log(self.ctlog.key, "https://ctlog.test")],
            "timestampAuthorities": [],
        }

    def bundle(self, statement: dict[str, Any], *, email: str = "ci@example.com",
               issuer: str = "https://token.test", tamper: bool = False) -> dict[str, Any]:
        key, leaf = self.fulcio.leaf(email=email, issuer=issuer, ctlog=self.ctlog)
        payload = json.dumps(statement, separators=(",", ":")).encode()
        sig = sign(key, _pae(INTOTO, payload))
        body = json.dumps({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": b64(sig), "verifier": b64(cert_pem(leaf).encode())}]}},
            separators=(",", ":")).encode()
        log_id = hashlib.sha256(spki_der(self.rekor.key.public_key())).digest()
        integrated = int(now().timestamp())
        canonical = json.dumps({"body": b64(body), "integratedTime": integrated, "logID": log_id.hex(),
                                "logIndex": 0}, sort_keys=True, separators=(",", ":")).encode()
        root = hashlib.sha256(b"\x00" + body).digest()  # a one-leaf tree: the root is the leaf hash
        note = f"{ORIGIN}\n1\n{b64(root)}\n"
        note_sig = base64.b64encode(log_id[:4] + sign(self.rekor.key, note.encode())).decode()
        checkpoint = f"{note}\n\u2014 {ORIGIN.split()[0]} {note_sig}\n"
        if tamper:
            payload = payload.replace(b'"sha256":"', b'"sha256":"0', 1)
        return {
            "mediaType": BUNDLE_TYPE,
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(leaf.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [{
                    "logIndex": "0", "logId": {"keyId": b64(log_id)},
                    "kindVersion": {"kind": "dsse", "version": "0.0.1"}, "integratedTime": str(integrated),
                    "inclusionPromise": {"signedEntryTimestamp": b64(sign(self.rekor.key, canonical))},
                    "inclusionProof": {"logIndex": "0", "rootHash": b64(root), "treeSize": "1", "hashes": [],
                                       "checkpoint": {"envelope": checkpoint}},
                    "canonicalizedBody": b64(body)}]},
            "dsseEnvelope": {"payload": b64(payload), "payloadType": INTOTO,
                             "signatures": [{"sig": b64(sig), "keyid": ""}]},
        }


def statement(digest: str, name: str, predicate_type: str = SIGN_PREDICATE,
              predicate: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": name, "digest": {"sha256": digest.split(":", 1)[1]}}],
            "predicateType": predicate_type, "predicate": predicate or {}}


def push_bundle(pusher: Pusher, repo: str, digest: str, bundle: dict[str, Any],
                predicate_type: str = SIGN_PREDICATE) -> str:
    """A referrer manifest holding the bundle, listed in the ``sha256-<hex>`` fallback index (read-modify-write)."""
    image = pusher.http.head(f"/v2/{repo}/manifests/{digest}", headers={"Accept": OCI_MANIFEST})
    size = int(image.headers["content-length"])
    blob = pusher.blob(repo, json.dumps(bundle).encode())
    empty = pusher.blob(repo, b"{}")
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_TYPE,
                "config": {"mediaType": OCI_EMPTY, **empty},
                "layers": [{"mediaType": BUNDLE_TYPE, **blob}],
                "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": size},
                "annotations": {"dev.sigstore.bundle.content": "dsse-envelope",
                                "dev.sigstore.bundle.predicateType": predicate_type}}
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    ref_digest = pusher.manifest(repo, sha(raw), manifest)
    tag = digest.replace(":", "-", 1)
    existing = pusher.http.get(f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_INDEX})
    entries = existing.json().get("manifests", []) if existing.status_code == 200 else []
    entries.append({"mediaType": OCI_MANIFEST, "digest": ref_digest, "size": len(raw), "artifactType": BUNDLE_TYPE,
                    "annotations": manifest["annotations"]})
    pusher.manifest(repo, tag, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, OCI_INDEX)
    return ref_digest
