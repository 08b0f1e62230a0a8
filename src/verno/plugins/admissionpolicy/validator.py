"""One evaluation of a ValidatingAdmissionPolicy: Kubernetes' validator (``k8s.io/apiserver/pkg/admission/
plugin/policy/validating/validator.go``).

* Match conditions are all evaluated: any ``false`` means the policy does not apply (no decisions); else
  any error is one error decision (several errors: ``[e1, e2]``), which denies under failurePolicy ``Fail``
  and admits under ``Ignore``.
* Every validation gives a decision (Kubernetes does not stop at the first failure): ``true`` admits, an
  evaluation error is an error decision (``expression '<expr>' resulted in error: <error>``), anything else
  denies with the message of the first that applies: the ``messageExpression`` result (trimmed; ignored when
  it fails, is empty, spans lines or exceeds 5 KiB), the ``message`` (trimmed), ``failed expression: <expr>``.
* Audit annotations: a non-empty string is published (trimmed), ``null`` or an empty string is left out, an
  error is an annotation error under ``Fail`` and left out under ``Ignore``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verno.core.cel import Activation, CELError

from verno.plugins.admissionpolicy.expressions import CompiledPolicy

ADMIT, DENY = "admit", "deny"
#: Kubernetes' bound on an evaluated messageExpression (``celconfig.MaxEvaluatedMessageExpressionSizeBytes``)
MAX_MESSAGE_BYTES = 5 * 1024
#: what Go's ``strings.TrimSpace`` trims (Unicode White_Space; Python's ``str.strip`` also trims U+001C-U+001F)
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + \
    "\u2028\u2029\u202f\u205f\u3000"
#: Kubernetes truncates a published audit annotation value to this length
MAX_ANNOTATION_VALUE = 10 * 1024


@dataclass
class Decision:
    """``action``: admit or deny; ``error``: the decision comes from an evaluation error."""

    action: str
    message: str = ""
    error: bool = False
    reason: str = ""
    #: the validation's index (-1: a match-condition error)
    index: int = -1


@dataclass
class AnnotationResult:
    key: str
    value: str = ""
    #: the evaluation error under failurePolicy Fail (the annotation is then not published)
    error: str = ""


@dataclass
class ValidateResult:
    #: False when a match condition was false: the policy does not apply and nothing else was evaluated
    matched: bool = True
    decisions: list[Decision] = field(default_factory=list)
    annotations: list[AnnotationResult] = field(default_factory=list)


def _error_text(source: str, exc: CELError) -> str:
    return f"expression '{source}' resulted in error: {exc.detail}"


def aggregate(messages: list[str]) -> str:
    """Kubernetes' error aggregate text: one message as is, several (distinct) as ``[a, b]``."""
    distinct = list(dict.fromkeys(messages))
    if len(messages) == 1 or len(distinct) == 1:
        return distinct[0]
    return "[" + ", ".join(distinct) + "]"


def validate(compiled: CompiledPolicy, inputs: dict[str, Any], failure_policy: str,
             trace: Any = None) -> ValidateResult:
    """``trace`` (explaining only): record each expression evaluated and its value."""
    on_error = ADMIT if failure_policy == "Ignore" else DENY
    activation = Activation(inputs, compiled.variables)
    if compiled.conditions:
        errors: list[str] = []
        unmet = False
        for _name, program in compiled.conditions:
            try:
                value = activation.evaluate(program)
            except CELError as exc:
                errors.append(_error_text(program.source, exc))
                if trace is not None:
                    trace.add("cel", field=f"matchConditions[{_name}]", expression=program.source, error=exc.detail)
                continue
            if trace is not None:
                trace.add("cel", field=f"matchConditions[{_name}]", expression=program.source, value=value)
            if value is False:
                unmet = True
        if unmet:
            return ValidateResult(matched=False)
        if errors:
            return ValidateResult(decisions=[Decision(on_error, aggregate(errors), error=True)])
    result = ValidateResult()
    for v in compiled.validations:
        try:
            value = activation.evaluate(v.program)
        except CELError as exc:
            result.decisions.append(Decision(on_error, _error_text(v.source, exc), error=True, index=v.index))
            if trace is not None:
                trace.add("cel", field=f"validations[{v.index}]", expression=v.source, error=exc.detail)
            continue
        if trace is not None:
            trace.add("cel", field=f"validations[{v.index}]", expression=v.source, value=value)
        if value is True:
            result.decisions.append(Decision(ADMIT, index=v.index))
            continue
        result.decisions.append(Decision(DENY, _message(v, activation), reason=v.reason or "Invalid",
                                         index=v.index))
    for a in compiled.annotations:
        try:
            value = activation.evaluate(a.program)
        except CELError as exc:
            if on_error == DENY:
                result.annotations.append(AnnotationResult(a.key, error=_error_text(a.source, exc)))
            continue
        if isinstance(value, str) and value.strip(GO_SPACE):
            result.annotations.append(AnnotationResult(a.key, value.strip(GO_SPACE)[:MAX_ANNOTATION_VALUE]))
    return result


def _message(v, activation: Activation) -> str:
    message = ""
    if v.message_program is not None:
        try:
            value = activation.evaluate(v.message_program)
        except CELError:
            value = None
        if isinstance(value, str):
            value = value.strip(GO_SPACE)
            if len(value.encode()) <= MAX_MESSAGE_BYTES and "\n" not in value:
                message = value
    if not message:
        message = v.message.strip(GO_SPACE)
    if not message:
        message = f"failed expression: {v.source.strip(GO_SPACE)}"
    return message
