"""``AnyIn``, ``AllIn``, ``AnyNotIn``, ``AllNotIn`` and the deprecated ``In`` / ``NotIn``.

K: ``pkg/engine/variables/operator/{anyin,allin,anynotin,allnotin,in,notin}.go``. The key is a scalar
(string, number, bool) or a list; the value is a list, a plain string, a range string (``"1-10"``) or a
JSON-encoded string list (what a ConfigMap value holds). Elements are compared as Go prints them
(``fmt.Sprint``) with wildcards in both directions. An unusable value makes the condition false.
"""
from __future__ import annotations

from typing import Any

from verno.core import wildcard
from verno.core.operators.gotypes import go_sprint, is_number, json_string_list, json_valid
from verno.core.operators.valuepattern import IN_RANGE, match_string_pattern, operator_of

_INVALID = None  # "invalid type": the operator returns false


def _either_way(a: str, b: str) -> bool:
    return wildcard.match(a, b) or wildcard.match(b, a)


def _string_values(value: str) -> list[str] | None:
    """A string value: a JSON string list when it is valid JSON, else the string itself."""
    if json_valid(value):
        return json_string_list(value)
    return [value]


# -- AnyIn / AllIn / AnyNotIn / AllNotIn ------------------------------------------------------------------
def _scalar_in(key: str, value: Any) -> bool | None:
    """K: ``anyKeyExistsInArray`` (shared by the four modern operators). None: invalid type."""
    if isinstance(value, list):
        return any(_either_way(go_sprint(v), key) for v in value)
    if isinstance(value, str):
        if wildcard.match(value, key):
            return True
        if operator_of(value) == IN_RANGE:
            return match_string_pattern(key, value)
        values = _string_values(value)
        if values is None:
            return _INVALID
        return key in values
    return _INVALID


def _set_values(keys: list[str], value: Any) -> list[str] | None:
    if isinstance(value, list):
        return [go_sprint(v) for v in value]
    if isinstance(value, str):
        return _string_values(value)
    return None


def _found(k: str, values: list[str]) -> bool:
    return any(_either_way(k, v) for v in values)


def _set_match(keys: list[str], value: Any, negate: bool, quantifier: Any) -> bool:
    """AnyIn/AnyNotIn (``quantifier=any``) and AllIn/AllNotIn (``all``) over a list of keys.

    A range value (``1-10``) is matched as a pattern; AllNotIn means no key is found at all.
    """
    if isinstance(value, str):
        if len(keys) == 1 and keys[0] == value:
            return not negate
        if operator_of(value) == IN_RANGE:
            pattern = value.replace("-", "!-", 1) if negate else value
            return quantifier(match_string_pattern(k, pattern) for k in keys)
    values = _set_values(keys, value)
    if values is None:
        return False
    if not negate:
        return quantifier(_found(k, values) for k in keys)
    if quantifier is any:
        return any(not _found(k, values) for k in keys)
    return not any(_found(k, values) for k in keys)


def _any_set(keys: list[str], value: Any, negate: bool) -> bool:
    return _set_match(keys, value, negate, any)


def _all_set(keys: list[str], value: Any, negate: bool) -> bool:
    return _set_match(keys, value, negate, all)


def _scalar_key(key: Any) -> str | None:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or is_number(key):
        return go_sprint(key)
    return None


def _modern(key: Any, value: Any, *, any_: bool, negate: bool) -> bool:
    if isinstance(key, list):
        keys = [go_sprint(k) for k in key]
        return _any_set(keys, value, negate) if any_ else _all_set(keys, value, negate)
    scalar = _scalar_key(key)
    if scalar is None:
        return False
    found = _scalar_in(scalar, value)
    if found is None:
        return False
    return not found if negate else found


def any_in(key: Any, value: Any) -> bool:
    """Any key element is in the value."""
    return _modern(key, value, any_=True, negate=False)


def all_in(key: Any, value: Any) -> bool:
    """Every key element is in the value."""
    return _modern(key, value, any_=False, negate=False)


def any_not_in(key: Any, value: Any) -> bool:
    """At least one key element is not in the value."""
    return _modern(key, value, any_=True, negate=True)


def all_not_in(key: Any, value: Any) -> bool:
    """No key element is in the value."""
    return _modern(key, value, any_=False, negate=True)


# -- In / NotIn (deprecated) ------------------------------------------------------------------------------
def _legacy_scalar_in(key: str, value: Any) -> bool | None:
    """K: ``keyExistsInArray`` (in.go)."""
    if isinstance(value, list):
        return any(_either_way(go_sprint(v), key) for v in value)
    if isinstance(value, str):
        if wildcard.match(value, key):
            return True
        values = json_string_list(value)
        if values is None:
            return _INVALID
        return key in values
    return _INVALID


def _legacy_set(keys: list[str], value: Any, negate: bool) -> bool:
    """K: ``setExistsInArray``: exact membership; a list value must hold only strings."""
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            return False
        values: list[str] | None = value
    elif isinstance(value, str):
        if len(keys) == 1 and keys[0] == value:
            return True  # Kyverno returns "exists" here for NotIn too
        values = json_string_list(value)
        if values is None:
            return False
    else:
        return False
    members = set(values)
    if negate:
        return any(k not in members for k in keys)
    return all(k in members for k in keys)


def _legacy(key: Any, value: Any, negate: bool) -> bool:
    if isinstance(key, list):
        return _legacy_set([go_sprint(k) for k in key], value, negate)
    if isinstance(key, str):
        scalar = key
    elif is_number(key):
        scalar = go_sprint(key)
    else:
        return False
    found = _legacy_scalar_in(scalar, value)
    if found is None:
        return False
    return not found if negate else found


def in_(key: Any, value: Any) -> bool:
    """Deprecated: the key (or every key element, exactly) is in the value."""
    return _legacy(key, value, negate=False)


def not_in(key: Any, value: Any) -> bool:
    """Deprecated: the key (or some key element, exactly) is not in the value."""
    return _legacy(key, value, negate=True)
