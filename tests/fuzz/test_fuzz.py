"""Fuzzing the CLI with mutated policies, resources, Test and Values files: no crash, every error named.

A bounded run for CI; ``bench/fuzz.py`` runs the same cases by the hundred thousand.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

SEEDS = harness.project_seeds()


def test_every_seed_runs_clean():
    """The unmutated seeds pass their own tests: a mutation starts from a suite that works."""
    for seed in SEEDS:
        case = harness.Case(seed, seed.test_file, seed.test_file.read_text())
        runs = harness.run_case(case)
        assert runs[0].exit_code == 0, (seed.directory, runs[0].output[-2000:])
        for run in runs:
            assert not run.problems, (seed.directory, run.command, run.problems)


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(seed_index=st.integers(0, len(SEEDS) - 1), rng_seed=st.integers(0, 2 ** 32 - 1))
def test_mutated_inputs_never_crash(seed_index, rng_seed):
    case = harness.make_case(SEEDS[seed_index], random.Random(rng_seed))
    for run in harness.run_case(case):
        assert not run.problems, (case.file.name, run.command, run.problems, case.text[:3000])


@pytest.mark.parametrize("problem,expected", [
    ("exception escaped: KeyError: 'spec'", "exception escaped: KeyError: '…'"),
    ("error names no file: at /a/b.yaml line 12", "error names no file: at /… line N"),
])
def test_signature_blanks_variable_parts(problem, expected):
    assert harness.signature(problem) == expected


def test_check_flags_internal_errors_and_unnamed_errors():
    seed = SEEDS[0]
    case = harness.Case(seed, seed.test_file, "")
    bad = harness.Run(["apply"], 1, "Error: internal error: KeyError: 'x'\nError: something went wrong\n")
    problems = harness.check(bad, case)
    assert any(p.startswith("internal error") for p in problems)
    assert any(p.startswith("error names no file") for p in problems)
    good = harness.Run(["apply"], 1, f"Error: {seed.test_file.name} (document 1): kind: bad\n")
    assert harness.check(good, case) == []


DOCUMENT = {"metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "web", "a": "1"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.0"}, {"name": "d", "image": "x"}]},
            "items": [1, "a", None, {"b": [2]}]}


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(rng_seed=st.integers(0, 2 ** 32 - 1))
def test_random_expressions_raise_only_verno_errors(rng_seed):
    expression = harness.random_expression(random.Random(rng_seed), FUNCTIONS)
    assert harness.expression_problem(expression, DOCUMENT) is None, expression


FUNCTIONS = harness.function_names()
