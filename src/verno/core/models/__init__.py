"""Typed models of what users write: policies, exceptions, Test, Values, UserInfo and Context files.

Resources being evaluated stay plain dicts (speed); these models only describe configuration.
Each model is imported from its own module when first used (building pydantic models takes time that
``verno apply`` should not spend on the Test models).
"""
from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Model": "base",
    "Policy": "policy",
    "Rule": "policy",
    "PolicyException": "exception",
    "TestFile": "testfile",
    "TestResult": "testfile",
    "ValuesFile": "values",
    "UserInfoFile": "userinfo",
    "ContextFile": "contextfile",
}

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
