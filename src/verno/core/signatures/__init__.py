"""Image signature verification shared by the policy kinds that check signatures (a ClusterPolicy's
``verifyImages`` rule, the ImageValidatingPolicy): each builds the neutral attestor model of
:mod:`.attestor` from its own spec and calls the verifiers here.

- :mod:`.crypto`: public keys, signatures, the Rekor SET; :mod:`.keyless`: certificate chains, Fulcio
  identities, SCTs;
- :mod:`.cosign`: cosign's legacy ``.sig`` / ``.att`` formats on a :class:`~.cosign.Target` image, m-of-n
  attestor sets; :mod:`.bundle`: Sigstore bundles attached as OCI 1.1 referrers;
- :mod:`.trustroot`: the keys and roots of a Sigstore ``TrustedRoot`` document;
- :mod:`.cache`: the TTL cache of verification outcomes; :mod:`.secrets`: keys held in Kubernetes Secrets.

The registry is reached through the duck-typed pool a plugin hands to :class:`~.cosign.Target` (the core
does not import the registry client); a missing manifest is :class:`verno.core.errors.ArtifactNotFound`.
"""
