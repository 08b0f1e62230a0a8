"""Media and artifact types of the Notary Project signature specification."""
from __future__ import annotations

#: the signature manifest's ``artifactType`` (and, in older signatures, its config's mediaType)
SIGNATURE_ARTIFACT = "application/vnd.cncf.notary.signature"
#: the JWS envelope (the only format verno verifies) and the COSE one (recognised, to say so)
JWS = "application/jose+json"
COSE = "application/cose"
#: the ``cty`` of the signed payload ``{"targetArtifact": descriptor}``
PAYLOAD = "application/vnd.cncf.notary.payload.v1+json"

SCHEME_X509 = "notary.x509"
SCHEME_SIGNING_AUTHORITY = "notary.x509.signingAuthority"

H_SIGNING_SCHEME = "io.cncf.notary.signingScheme"
H_SIGNING_TIME = "io.cncf.notary.signingTime"
H_AUTHENTIC_SIGNING_TIME = "io.cncf.notary.authenticSigningTime"
H_EXPIRY = "io.cncf.notary.expiry"
H_VERIFICATION_PLUGIN = "io.cncf.notary.verificationPlugin"
H_VERIFICATION_PLUGIN_MIN = "io.cncf.notary.verificationPluginMinVersion"
H_TIMESTAMP = "io.cncf.notary.timestampSignature"
