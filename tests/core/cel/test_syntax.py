"""core/cel/syntax.py: verno's CEL syntax tree reader."""
import pytest


def test_reserved_words_are_field_names_after_a_dot():
    from verno.core.cel.syntax import SyntaxError_, parse

    parse("object.metadata.namespace == request.namespace")
    parse("object.?namespace.orValue('')")
    with pytest.raises(SyntaxError_, match="reserved identifier 'namespace'"):
        parse("namespace == 'a'")
