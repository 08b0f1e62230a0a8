"""plugins/verifyimages/spec.py: a verifyImages entry of the wrong shape is an error naming the field."""
from __future__ import annotations

import pytest

from verno.plugins.verifyimages.spec import SpecError, parse

KEY = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"


@pytest.mark.parametrize("entry,message", [
    ({"imageReferences": [True]}, ".imageReferences[0] must be a string, got bool"),
    ({"imageReferences": [["a"]]}, ".imageReferences[0] must be a string, got list"),
    ({"imageReferences": "ghcr.io/*"}, ".imageReferences must be a list of strings, got str"),
    ({"imageReferences": ["*"], "attestors": [[1]]}, ".attestors[0] must be a mapping, got list"),
    ({"imageReferences": ["*"], "attestors": 5}, ".attestors must be a list, got int"),
    ({"imageReferences": ["*"], "attestors": [{"entries": 5}]}, ".attestors[0].entries must be a list, got int"),
    ({"imageReferences": ["*"], "attestors": [{"entries": [{"keys": 5}]}]},
     ".attestors[0].entries[0].keys must be a mapping, got int"),
    ({"imageReferences": ["*"], "attestors": [{"entries": [{"keys": {"publicKeys": KEY, "rekor": []}}]}]},
     ".attestors[0].entries[0].keys.rekor must be a mapping, got list"),
    ({"imageReferences": ["*"], "attestors": [{"count": True, "entries": [{"keys": {"publicKeys": KEY}}]}]},
     ".attestors[0].count must be at least 1"),
    ({"imageReferences": ["*"], "attestations": [{"type": ["x"]}]}, ".attestations[0]: type is required"),
    ({"imageReferences": ["*"], "attestations": [{"type": "x", "conditions": "all"}]},
     ".attestations[0].conditions must be a list, got str"),
    ({"imageReferences": ["*"], "imageRegistryCredentials": ["a"]},
     ".imageRegistryCredentials must be a mapping, got list"),
    (["not", "a", "mapping"], "verifyImages entry must be a mapping, got list"),
])
def test_wrong_shapes(entry, message):
    with pytest.raises(SpecError) as err:
        parse(entry)
    assert message in str(err.value)


def test_a_well_formed_entry_parses():
    iv = parse({"imageReferences": ["ghcr.io/*"], "attestors": [{"count": 1, "entries": [{"keys": {
        "publicKeys": KEY, "rekor": {"ignoreTlog": True}}}]}]})
    assert iv.image_references == ["ghcr.io/*"] and len(iv.attestors[0].entries) == 1
