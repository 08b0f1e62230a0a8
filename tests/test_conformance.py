"""Kyverno's own CLI test suites, run through `verno test`.

The suites are in ../shared/conformance beside the checkout (or in $VERNO_CONFORMANCE); the test is
skipped as a whole when they are absent, except under CI (CI set), where their absence is a failure.

One parametrized test: each suite listed in legacy-subset.txt and in cel-validate.txt (ValidatingPolicy,
ValidatingAdmissionPolicy and bindings, ``validate.cel``), and each suite of cel-other.txt whose kinds
verno runs (MutatingPolicy, MutatingAdmissionPolicy and bindings), must pass every result row. The list is
the only source of skips: a suite it flags ``needs-registry`` (it reads images from the public
internet) is skipped, naming the flag. Anything else that keeps a suite from running (a plugin that did
not load, a rule type verno reports as not supported, a crash, no summary) fails the test: a regression
never turns into a skip.

A suite using a rule type that verno does not implement (KNOWN_GAPS) is run too and must be refused
loudly: every row an error naming the rule type, a non-zero exit, no traceback. When the type is
implemented that test fails, and the entry goes.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from verno.cli.main import cli

SHARED = Path(os.environ.get("VERNO_CONFORMANCE") or Path(__file__).resolve().parents[1].parent / "shared" / "conformance")
CORPUS = SHARED / "kyverno-cli"
LIST = SHARED / "legacy-subset.txt"
#: the CEL suites of the kinds verno runs
CEL_LIST = SHARED / "cel-validate.txt"
#: the other CEL kinds' suites: only those whose every kind verno runs are run (ids ``cel-other:``); a
#: suite naming a kind not implemented yet (ImageValidatingPolicy) is left out of the parametrization, not
#: skipped, until its kinds are added here
OTHER_LIST = SHARED / "cel-other.txt"
OTHER_KINDS_RUN = {"MutatingPolicy", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "GeneratingPolicy",
                   "DeletingPolicy"}
SUMMARY = re.compile(r"Test Summary: (\d+) tests passed and (\d+) tests failed")
#: the list's flags that leave a suite out of an offline run (the only reason a suite is skipped)
SKIP_FLAGS = {"needs-registry": "reads images from a public registry (flagged needs-registry in legacy-subset.txt)"}
#: rule types of the list that verno does not implement -> what verno must say of them
KNOWN_GAPS = {"validate.manifests": "validate.manifests is not supported yet"}
TEST_FILES = ("kyverno-test.yaml", "kyverno-test.yml")


def _suites() -> list:
    out = []
    for listed in (LIST, CEL_LIST):
        if listed.exists():
            out += _suites_of(listed)
    if OTHER_LIST.exists():
        out += [p for p in _suites_of(OTHER_LIST) if set(p.values[1]) <= OTHER_KINDS_RUN]
    return out


def _suites_of(listed: Path) -> list:
    out = []
    for line in listed.read_text().splitlines():
        parts = line.split("\t")
        if not parts[0]:
            continue
        types = [t for t in (parts[1] if len(parts) > 1 else "").split(",") if t and t != "-"]
        flags = [f for f in parts[2:] if f]
        unknown = [f for f in flags if f not in SKIP_FLAGS]
        if unknown:
            raise ValueError(f"{listed}: suite {parts[0]}: unknown flag(s) {unknown}; known: {sorted(SKIP_FLAGS)}")
        marks = [pytest.mark.skip(reason=SKIP_FLAGS[f]) for f in flags[:1]]
        prefix = {LIST: "", CEL_LIST: "cel:"}.get(listed, "cel-other:")
        out.append(pytest.param(parts[0], types, marks=marks, id=prefix + parts[0]))
    return out


SUITES = _suites()


def expected_rows(suite: Path) -> int:
    """Result rows the suite's test files declare (nested suites included: `verno test` runs them too)."""
    n = 0
    for path in sorted(p for name in TEST_FILES for p in suite.rglob(name)):
        for doc in yaml.safe_load_all(path.read_text()):
            for r in (doc or {}).get("results") or []:
                n += len(r.get("resources") or r.get("resourceSpecs") or [None])
    return n


def test_suites_present_under_ci() -> None:
    if not LIST.exists():
        assert not os.environ.get("CI"), f"{LIST} is absent: the conformance suites did not run"
        pytest.skip(f"{LIST} is absent")


def _run(suite: str):
    return CliRunner().invoke(cli, ["test", str(CORPUS / suite)])


@pytest.mark.skipif(not SUITES, reason="../shared/conformance is absent")
@pytest.mark.parametrize("suite,types", SUITES)
def test_kyverno_suite(suite: str, types: list[str]) -> None:
    result = _run(suite)
    out = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"verno test crashed: {result.exception!r}\n{out[-2000:]}"
    assert "Traceback" not in out, out[-4000:]
    found = SUMMARY.findall(out)
    assert found, f"verno test printed no summary for {suite}:\n{out[-2000:]}"
    passed, failed = (int(x) for x in found[-1])
    gaps = [t for t in types if t in KNOWN_GAPS]
    if gaps:
        # not implemented: every row must be an error naming the rule type, never a pass
        assert passed == 0, f"{gaps} now passes rows: remove it from KNOWN_GAPS\n{out[-4000:]}"
        assert failed == expected_rows(CORPUS / suite) and result.exit_code != 0, out[-4000:]
        detailed = _run_detailed(suite)
        for t in gaps:
            assert detailed.count(KNOWN_GAPS[t]) >= failed, detailed[-4000:]
        return
    assert failed == 0 and result.exit_code == 0, out[-4000:]
    # every declared row was checked (a result without resources may cover several)
    assert passed >= expected_rows(CORPUS / suite) > 0, out[-4000:]


def _run_detailed(suite: str) -> str:
    return CliRunner().invoke(cli, ["test", str(CORPUS / suite), "--detailed-results"]).output


def test_list_flags_are_the_only_skips() -> None:
    """The list is read as the conformance tool reads it: only needs-registry suites are left out."""
    if not LIST.exists():
        pytest.skip("../shared/conformance is absent")
    skipped = [p.values[0] for p in SUITES if p.marks]
    flagged = [line.split("\t")[0] for listed in (LIST, CEL_LIST) if listed.exists()
               for line in listed.read_text().splitlines() if "needs-registry" in line.split("\t")[2:]]
    assert skipped == flagged and len(SUITES) - len(skipped) > 0
