"""Kyverno's missing-key semantics on top of jmespath's tree interpreter.

Kyverno's go-jmespath fork raises ``NotFoundError`` (``Unknown key "x" in path``) when a field is
absent from an object, where standard JMESPath returns null. The error is swallowed (treated as null)
inside comparators, function arguments, filter expressions, ``||``/``&&``/``!``, projections and
multi-selects.
A field lookup on something that is not an object still gives null.
"""
from __future__ import annotations

from typing import Any

from jmespath.visitor import TreeInterpreter, _is_actual_number

from verno.core.errors import NotFoundError

Node = dict[str, Any]


class KyvernoInterpreter(TreeInterpreter):
    """A ``TreeInterpreter`` whose field lookups raise :class:`NotFoundError` like Kyverno's."""

    def _lenient(self, node: Node, value: Any) -> Any:
        try:
            return self.visit(node, value)
        except NotFoundError:
            return None

    # -- the strict lookup -------------------------------------------------------------------------------
    def visit_field(self, node: Node, value: Any) -> Any:
        if isinstance(value, dict):
            key = node["value"]
            try:
                return value[key]
            except KeyError:
                raise NotFoundError(key) from None
        return None

    # -- where a missing key is just null ----------------------------------------------------------------
    def visit_comparator(self, node: Node, value: Any) -> Any:
        left_node, right_node = node["children"]
        left = self._lenient(left_node, value)
        right = self._lenient(right_node, value)
        op = node["value"]
        compare = self.COMPARATOR_FUNC[op]
        if op in self._EQUALITY_OPS:
            return compare(left, right)
        # Go's JMESPath orders numbers only; anything else compares to null
        if not (_is_actual_number(left) and _is_actual_number(right)):
            return None
        return compare(left, right)

    def visit_function_expression(self, node: Node, value: Any) -> Any:
        args = [self._lenient(child, value) for child in node["children"]]
        return self._functions.call_function(node["value"], args)

    def visit_filter_projection(self, node: Node, value: Any) -> Any:
        base = self.visit(node["children"][0], value)
        if not isinstance(base, list):
            return None
        condition, projected = node["children"][2], node["children"][1]
        collected = []
        for element in base:
            if self._is_true(self._lenient(condition, element)):
                current = self._lenient(projected, element)
                if current is not None:
                    collected.append(current)
        return collected

    def visit_projection(self, node: Node, value: Any) -> Any:
        base = self.visit(node["children"][0], value)
        if not isinstance(base, list):
            return None
        projected = node["children"][1]
        collected = []
        for element in base:
            current = self._lenient(projected, element)
            if current is not None:
                collected.append(current)
        return collected

    def visit_value_projection(self, node: Node, value: Any) -> Any:
        base = self.visit(node["children"][0], value)
        if not isinstance(base, dict):
            return None
        projected = node["children"][1]
        collected = []
        for element in base.values():
            current = self._lenient(projected, element)
            if current is not None:
                collected.append(current)
        return collected

    def visit_or_expression(self, node: Node, value: Any) -> Any:
        matched = self._lenient(node["children"][0], value)
        if self._is_false(matched):
            matched = self._lenient(node["children"][1], value)
        return matched

    def visit_and_expression(self, node: Node, value: Any) -> Any:
        matched = self._lenient(node["children"][0], value)
        if self._is_false(matched):
            return matched
        return self._lenient(node["children"][1], value)

    def visit_not_expression(self, node: Node, value: Any) -> Any:
        original = self._lenient(node["children"][0], value)
        if _is_actual_number(original) and original == 0:
            return False
        return not original

    # multi-selects: Kyverno's own sample policies rely on ``spec.[initContainers, containers][]``
    # working when one of the lists is absent, so a missing key is null there too
    def visit_multi_select_list(self, node: Node, value: Any) -> Any:
        if value is None:
            return None
        return [self._lenient(child, value) for child in node["children"]]

    def visit_multi_select_dict(self, node: Node, value: Any) -> Any:
        if value is None:
            return None
        return {child["value"]: self._lenient(child["children"][0], value) for child in node["children"]}
