"""How each family module lists its functions for the plugin's registry hook."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Spec:
    name: str
    fn: Callable[..., Any]
    arg_types: list[Any]
    returns: str
    description: str


S = ["string"]
N = ["number"]
B = ["boolean"]
O = ["object"]
A = ["array"]
ANY = ["any"]
SN = ["string", "number"]
OA = ["object", "array"]
