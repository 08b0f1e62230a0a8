"""The neutral attestor model: what one signer (a key, a certificate, a keyless identity) is trusted with.

A ClusterPolicy's ``verifyImages`` entries and an ImageValidatingPolicy's cosign attestors are both read
into :class:`Attestor` / :class:`AttestorSet`; the verifiers of :mod:`verno.core.signatures` read nothing
else. ``where`` names the attestor in messages (a field path, or ``attestor <name>``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

PUBLIC_REKOR = "https://rekor.sigstore.dev"


@dataclass(frozen=True)
class Rekor:
    url: str = PUBLIC_REKOR
    pubkey: str = ""
    ignore_tlog: bool = False


@dataclass(frozen=True)
class CTLog:
    ignore_sct: bool = False
    pubkey: str = ""


@dataclass(frozen=True)
class Identity:
    """One accepted keyless identity: subject (wildcard) or subjectRegExp, issuer (wildcard) or issuerRegExp."""

    subject: str = ""
    subject_regexp: str = ""
    issuer: str = ""
    issuer_regexp: str = ""


@dataclass
class Attestor:
    """One attestor entry: exactly one of ``keys`` / ``certificates`` / ``keyless`` / ``attestor`` (nested)."""

    kind: str  # keys | certificates | keyless | attestor
    where: str  # ".attestors[0].entries[1].keys", "attestor cosign-key": names the entry in messages
    key: str = ""
    #: (namespace, name) of a Secret holding the key (``k8s://ns/name``, ``keys.secret``), read at
    #: verification time through the cluster client; ``key`` is empty until then
    key_secret: tuple[str, str] | None = None
    signature_algorithm: str = "sha256"
    cert: str = ""
    cert_chain: str = ""
    roots: str = ""
    #: keyless: the certificate must match one of these (none: any identity the roots issued)
    identities: tuple[Identity, ...] = ()
    extensions: dict[str, str] = field(default_factory=dict)
    rekor: Rekor = field(default_factory=Rekor)
    ctlog: CTLog = field(default_factory=CTLog)
    annotations: dict[str, str] = field(default_factory=dict)
    #: where the signatures are stored (a repository) and the prefix of their tags (cosign's ``--prefix``)
    repository: str = ""
    tag_prefix: str = ""
    nested: AttestorSet | None = None


@dataclass
class AttestorSet:
    entries: list[Attestor]
    count: int | None = None
    where: str = ""

    @property
    def required(self) -> int:
        return len(self.entries) if self.count is None else self.count
