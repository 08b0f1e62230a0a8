"""The signature algorithms of the Notary Project (RSASSA-PSS and ECDSA with SHA-2), as JWS ``alg`` values.

The signing key is the source of truth: its type and size name the one algorithm a signature may use
(RSA 2048/3072/4096 -> PS256/PS384/PS512, P-256/P-384/P-521 -> ES256/ES384/ES512), and ``alg`` must
name that algorithm, so an algorithm cannot be substituted.
"""
from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from verno.core.notary.outcome import SignatureInvalid

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
SUPPORTED = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
_RSA_BITS = {2048: "PS256", 3072: "PS384", 4096: "PS512"}
_EC_CURVES = {"secp256r1": ("ES256", 32), "secp384r1": ("ES384", 48), "secp521r1": ("ES512", 66)}


def key_algorithm(key: object) -> str:
    """The ``alg`` the signing key's type and size call for; SignatureInvalid for any other key."""
    if isinstance(key, rsa.RSAPublicKey):
        alg = _RSA_BITS.get(key.key_size)
        if alg is None:
            raise SignatureInvalid(f"RSA key size {key.key_size} bits is not supported (the Notary Project "
                                   f"allows 2048, 3072 and 4096)")
        return alg
    if isinstance(key, ec.EllipticCurvePublicKey):
        spec = _EC_CURVES.get(key.curve.name)
        if spec is None:
            raise SignatureInvalid(f"EC curve {key.curve.name} is not supported (the Notary Project allows "
                                   f"P-256, P-384 and P-521)")
        return spec[0]
    raise SignatureInvalid(f"signing key type {type(key).__name__.lstrip('_')} is not supported "
                           f"(the Notary Project allows RSA and ECDSA keys)")


def verify(alg: str, key: object, signature: bytes, message: bytes) -> None:
    """Check ``signature`` over ``message`` with the leaf certificate's key; SignatureInvalid when not."""
    if alg not in SUPPORTED:
        raise SignatureInvalid(f"signature algorithm {alg!r} is not supported (the Notary Project allows "
                               f"{', '.join(SUPPORTED)})")
    expected = key_algorithm(key)
    if alg != expected:
        raise SignatureInvalid(f"signature algorithm {alg!r} does not match the signing key, which calls for "
                               f"{expected!r}")
    digest = _HASHES[alg[2:]]()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
        else:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            size = _EC_CURVES[key.curve.name][1]
            if len(signature) != 2 * size:
                raise SignatureInvalid("signature is invalid: an ECDSA JWS signature is r || s, "
                                       f"{2 * size} bytes for {alg}, not {len(signature)}")
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), message, ec.ECDSA(digest))
    except InvalidSignature:
        raise SignatureInvalid("signature is invalid: the envelope's signature does not match its payload "
                               "and protected headers (the signature or its content was altered)") from None
