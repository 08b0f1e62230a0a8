"""Every limit of Notary Project verification: what is read, how much, and how many."""
from __future__ import annotations

#: signatures examined per artifact (notation's ``MaxSignatureAttempts`` as Kyverno sets it)
MAX_SIGNATURE_ATTEMPTS = 10
#: referrers an artifact may have before it is refused (Kyverno's ``maxReferrersCount``)
MAX_REFERRERS = 50
#: a signature manifest (a few hundred bytes in practice)
MAX_SIGNATURE_MANIFEST_BYTES = 64 * 1024
#: a signature envelope blob: a payload descriptor, headers and an x5c chain are a few kilobytes
MAX_ENVELOPE_BYTES = 1024 * 1024
#: a referrer's payload layer (Kyverno's ``maxPayloadSize``)
MAX_PAYLOAD_BYTES = 10 * 1000 * 1000
#: certificates in an x5c chain
MAX_CHAIN_LENGTH = 10
#: certificates in the policy's ``certs`` / ``tsaCerts``
MAX_TRUSTED_CERTS = 100
#: the decoded JWS payload (a descriptor with annotations)
MAX_JWS_PAYLOAD_BYTES = 64 * 1024
