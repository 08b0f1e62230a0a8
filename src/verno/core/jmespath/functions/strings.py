"""String functions (K: pkg/engine/jmespath/functions.go)."""
from __future__ import annotations

import base64
import binascii

from verno.core import limits
from verno.core.jmespath.functions._go import clean_path, fn_error
from verno.core.jmespath.functions._spec import N, S, Spec


def compare(a: str, b: str) -> int:
    """``strings.Compare``: byte-wise ordering of the UTF-8 encodings."""
    x, y = a.encode(), b.encode()
    return (x > y) - (x < y)


def equal_fold(a: str, b: str) -> bool:
    """``strings.EqualFold``: equal under simple Unicode case folding."""
    if len(a) != len(b):
        return False
    return all(x == y or x.lower() == y.lower() or x.upper() == y.upper() for x, y in zip(a, b))


def _go_replace(function: str, s: str, old: str, new: str, n: int) -> str:
    """``strings.Replace``: n < 0 means every occurrence; an empty ``old`` inserts between runes."""
    if n == 0 or old == new:
        return s
    found = len(s) + 1 if old == "" else s.count(old)
    count = found if n < 0 else min(n, found)
    if len(new) > len(old) and len(s) + count * (len(new) - len(old)) > limits.max_function_result():
        raise limits.too_large(function)  # before building it
    if old == "":
        limit = count
        out = []
        for i in range(limit):
            out.append(new)
            if i < len(s):
                out.append(s[i])
        out.append(s[limit:])
        return "".join(out)
    return s.replace(old, new, -1 if n < 0 else n)


def replace(s: str, old: str, new: str, n: float) -> str:
    return _go_replace("replace", s, old, new, int(n))


def replace_all(s: str, old: str, new: str) -> str:
    return _go_replace("replace_all", s, old, new, -1)


def to_upper(s: str) -> str:
    return s.upper()


def to_lower(s: str) -> str:
    return s.lower()


def trim(s: str, cutset: str) -> str:
    """``strings.Trim``: strip every leading and trailing rune found in ``cutset``."""
    if not s or not cutset:
        return s
    return s.strip(cutset)


def trim_prefix(s: str, prefix: str) -> str:
    return s[len(prefix):] if prefix and s.startswith(prefix) else s


def split(s: str, sep: str) -> list[str]:
    """``strings.Split``: an empty separator splits into runes; an empty string gives ``[""]``."""
    if sep == "":
        return list(s)
    return s.split(sep)


def truncate(s: str, length: float) -> str:
    """Keep the first ``length`` runes (negative means 0)."""
    n = int(length) if length > 0 else 0
    return s[:n]


def base64_decode(s: str) -> str:
    try:
        raw = base64.b64decode(s.encode(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise fn_error("base64_decode", f"illegal base64 data: {exc}") from None
    return raw.decode("utf-8", errors="replace")


def base64_encode(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def path_canonicalize(s: str) -> str:
    """``filepath.Join(s)``: ``Clean`` of a non-empty path, ``""`` for an empty one."""
    return clean_path(s) if s else ""


FUNCTIONS = [
    Spec("compare", compare, [S, S], "number", "compares two strings lexicographically"),
    Spec("equal_fold", equal_fold, [S, S], "boolean",
         "allows comparing two strings for equivalency where the only differences are letter cases"),
    Spec("replace", replace, [S, S, S, N], "string",
         "replaces a specified number of instances of the source string with the replacement string in a parent"),
    Spec("replace_all", replace_all, [S, S, S], "string",
         "replace all instances of one string with another in an overall parent string"),
    Spec("to_upper", to_upper, [S], "string",
         "takes in a string and outputs the same string with all upper-case letters"),
    Spec("to_lower", to_lower, [S], "string",
         "takes in a string and outputs the same string with all lower-case letters"),
    Spec("trim", trim, [S, S], "string",
         "trims both ends of the source string by characters appearing in the second string"),
    Spec("trim_prefix", trim_prefix, [S, S], "string",
         "trims the second string prefix from the first string if the first string starts with the prefix"),
    Spec("split", split, [S, S], "array",
         "splits the first string when the second string is found and converts it into an array"),
    Spec("truncate", truncate, [S, N], "string",
         "length argument must be enclosed in backticks; ex. \"{{request.object.metadata.name | truncate(@, `9`)}}\""),
    Spec("base64_decode", base64_decode, [S], "string", "decodes a base 64 string"),
    Spec("base64_encode", base64_encode, [S], "string",
         "encodes a regular, plaintext and unencoded string to base64"),
    Spec("path_canonicalize", path_canonicalize, [S], "string",
         "normalizes or canonicalizes a given path by removing excess slashes"),
]
