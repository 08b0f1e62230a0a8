"""CEL for Kyverno's CEL policy kinds and Kubernetes' ValidatingAdmissionPolicy.

Entry points: :func:`environment_for` (a kind's environment), ``Environment.compile`` (cached),
:class:`VariableSet` (a policy's variables), :class:`Activation` (one evaluation's inputs). Errors are
:class:`CELCompileError` / :class:`CELEvaluationError` / :class:`CELCostError`, each naming the expression.
See ``docs/cel.md``.
"""
from verno.core.cel.environment import KINDS, Environment, EnvironmentSpec, environment_for
from verno.core.cel.errors import CELCompileError, CELCostError, CELError, CELEvaluationError
from verno.core.cel.library import Function, FunctionError, Library, LibraryRegistry, Overload
from verno.core.cel.program import Activation, Program, VariableSet

__all__ = ["KINDS", "Activation", "CELCompileError", "CELCostError", "CELError", "CELEvaluationError",
           "Environment", "EnvironmentSpec", "Function", "FunctionError", "Library", "LibraryRegistry",
           "Overload", "Program", "VariableSet", "environment_for"]
