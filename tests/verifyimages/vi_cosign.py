"""Pushing images, cosign ``.sig`` signatures and ``.att`` DSSE attestations in exactly cosign's formats."""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import httpx

from vi_pki import sign

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
INTOTO = "application/vnd.in-toto+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Pusher:
    """Writes blobs and manifests to a registry (``POST``/``PUT`` uploads, then ``PUT`` manifest)."""

    def __init__(self, base_url: str, *, auth: tuple[str, str] | None = None, verify: Any = True):
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, auth=auth, verify=verify, timeout=10)

    def blob(self, repo: str, data: bytes) -> dict[str, Any]:
        digest = sha(data)
        r = self.http.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        location = r.headers["location"]
        sep = "&" if "?" in location else "?"
        r = self.http.put(f"{location}{sep}digest={digest}", content=data,
                          headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        return {"digest": digest, "size": len(data)}

    def manifest(self, repo: str, ref: str, manifest: dict[str, Any], media_type: str = OCI_MANIFEST) -> str:
        raw = json.dumps(manifest, separators=(",", ":")).encode()
        r = self.http.put(f"/v2/{repo}/manifests/{ref}", content=raw, headers={"Content-Type": media_type})
        assert r.status_code == 201, r.text
        assert r.headers["docker-content-digest"] == sha(raw)
        return sha(raw)

    def image(self, repo: str, tag: str, seed: str = "") -> str:
        """A small image (config + one layer); returns its manifest digest."""
        config = self.blob(repo, json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {
            "seed": seed or f"{repo}:{tag}"}}, "rootfs": {"type": "layers", "diff_ids": []}}).encode())
        layer = self.blob(repo, f"layer of {repo}:{tag} {seed}".encode())
        return self.manifest(repo, tag, {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, **config},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}]})

    def artifact(self, repo: str, tag: str, layers: list[tuple[str, bytes, dict[str, str]]]) -> str:
        """A cosign signature/attestation image: a dummy config and one layer per (mediaType, blob, annotations)."""
        descs = []
        for media_type, data, annotations in layers:
            d = self.blob(repo, data)
            descs.append({"mediaType": media_type, **d, "annotations": annotations})
        config = self.blob(repo, json.dumps({
            "architecture": "", "created": "0001-01-01T00:00:00Z", "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "", "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descs]},
            "config": {}}, separators=(",", ":")).encode())
        return self.manifest(repo, tag, {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                         "config": {"mediaType": OCI_CONFIG, **config}, "layers": descs})


def sig_tag(digest: str, suffix: str = "sig") -> str:
    return digest.replace(":", "-", 1) + "." + suffix


def payload(repo: str, digest: str, optional: dict[str, str] | None = None) -> bytes:
    """cosign's simple-signing payload (compact, as cosign marshals it)."""
    return json.dumps({"critical": {"identity": {"docker-reference": repo},
                                    "image": {"docker-manifest-digest": digest},
                                    "type": "cosign container image signature"},
                       "optional": optional}, separators=(",", ":")).encode()


@dataclass
class Signature:
    """One signature layer: payload, signature and the keyless annotations."""

    payload: bytes
    signature: str
    cert: str = ""
    chain: str = ""
    bundle: str = ""

    def layer(self, media_type: str = SIMPLESIGNING, extra: dict[str, str] | None = None):
        ann = {"dev.cosignproject.cosign/signature": self.signature, **(extra or {})}
        if self.cert:
            ann["dev.sigstore.cosign/certificate"] = self.cert
        if self.chain:
            ann["dev.sigstore.cosign/chain"] = self.chain
        if self.bundle:
            ann["dev.sigstore.cosign/bundle"] = self.bundle
        return (media_type, self.payload, ann)


def signature(key, repo: str, digest: str, *, optional: dict[str, str] | None = None, cert: str = "",
              chain: str = "", rekor=None, verifier_pem: str = "") -> Signature:
    body = payload(repo, digest, optional)
    sig = b64(sign(key, body))
    bundle = rekor.bundle(sig, body, verifier_pem or cert) if rekor is not None else ""
    return Signature(body, sig, cert, chain, bundle)


def push_signatures(pusher: Pusher, repo: str, digest: str, sigs: list[Signature]) -> str:
    return pusher.artifact(repo, sig_tag(digest), [s.layer() for s in sigs])


def statement(repo: str, digest: str, predicate_type: str, predicate: dict[str, Any]) -> dict[str, Any]:
    return {"_type": "https://in-toto.io/Statement/v0.1", "predicateType": predicate_type,
            "subject": [{"name": repo, "digest": {"sha256": digest.split(":", 1)[1]}}], "predicate": predicate}


def pae(payload_type: str, body: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def attestation(key, stmt: dict[str, Any], *, cert: str = "", chain: str = "",
                payload_type: str = INTOTO) -> tuple[str, bytes, dict[str, str]]:
    body = json.dumps(stmt, separators=(",", ":")).encode()
    envelope = {"payloadType": payload_type, "payload": b64(body),
                "signatures": [{"keyid": "", "sig": b64(sign(key, pae(payload_type, body)))}]}
    ann = {"predicateType": stmt["predicateType"], "dev.cosignproject.cosign/signature": ""}
    if cert:
        ann["dev.sigstore.cosign/certificate"] = cert
    if chain:
        ann["dev.sigstore.cosign/chain"] = chain
    return (DSSE, json.dumps(envelope, separators=(",", ":")).encode(), ann)


def push_attestations(pusher: Pusher, repo: str, digest: str, layers: list[tuple[str, bytes, dict[str, str]]]) -> str:
    return pusher.artifact(repo, sig_tag(digest, "att"), layers)
