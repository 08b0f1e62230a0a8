"""Typed models of what users write: policies, exceptions, Test, Values and UserInfo files.

Resources being evaluated stay plain dicts (speed); these models only describe configuration.
"""
from verno.core.models.base import Model
from verno.core.models.exception import PolicyException
from verno.core.models.policy import Policy, Rule
from verno.core.models.testfile import TestFile, TestResult
from verno.core.models.userinfo import UserInfoFile
from verno.core.models.values import ValuesFile

__all__ = ["Model", "Policy", "Rule", "PolicyException", "TestFile", "TestResult", "ValuesFile", "UserInfoFile"]
