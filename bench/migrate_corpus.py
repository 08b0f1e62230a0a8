"""`verno migrate` measured on Kyverno's own CLI suites (../shared/conformance/legacy-subset.txt).

For every suite: its policies are migrated; the policies migrated whole and the rules translated are
counted; then the original and the migrated policies run over the suite's resources (``--check``'s
comparison), and each result row of the suite's Test files about a translated rule counts as unchanged when
every resource it names gets the same verdict from both. Rows about rules left untranslated are counted
apart, with the reasons tallied.

    python bench/migrate_corpus.py [--corpus ../shared/conformance]
"""
from __future__ import annotations

import argparse
import collections
import re
import sys
from pathlib import Path

import yaml

from verno.cli.migrate import migrate_paths
from verno.cli.migrate_check import check
from verno.core.engine import Engine
from verno.core.errors import VernoError


def _tests(suite: Path) -> list[Path]:
    return sorted(p for p in suite.rglob("kyverno-test.y*ml"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared" / "conformance"))
    args = parser.parse_args()
    corpus = Path(args.corpus)
    engine = Engine()
    policies = whole = rules = translated = 0
    rows = rows_translated = rows_unchanged = 0
    reasons: collections.Counter[str] = collections.Counter()
    errors = 0
    for line in (corpus / "legacy-subset.txt").read_text().splitlines():
        name = line.split("\t")[0]
        if not name:
            continue
        for test_path in _tests(corpus / "kyverno-cli" / name):
            test = yaml.safe_load(test_path.read_text())
            base = test_path.parent
            try:
                policy_paths = [str(base / p) for p in test.get("policies") or []]
                resource_paths = [str(base / p) for p in test.get("resources") or []]
                target_paths = [str(base / p) for p in test.get("targetResources") or []]
                policy_set, migrations = migrate_paths(engine, policy_paths)
                _, _, differences = check(engine, policy_set, migrations, resource_paths, target_paths) \
                    if resource_paths else (0, 0, [])
            except (VernoError, OSError, ValueError) as exc:
                errors += 1
                print(f"  {test_path}: {type(exc).__name__}: {str(exc)[:160]}", file=sys.stderr)
                continue
            policies += len(migrations)
            whole += sum(m.whole for m in migrations)
            for m in migrations:
                translated += len(m.names)
                rules += len(m.names) + len(m.untranslated)
                for _, why in m.untranslated:
                    reasons[re.sub(r"'[^']*'|\"[^\"]*\"", "…", why)[:90]] += 1
            names = {m.policy: m for m in migrations}
            differing = {(d.policy, d.rule, d.resource.rsplit("/", 1)[-1]) for d in differences}
            for result in test.get("results") or []:
                policy = str(result.get("policy", "")).rsplit("/", 1)[-1]
                rule = str(result.get("rule", ""))
                for prefix in ("autogen-cronjob-", "autogen-"):
                    rule = rule[len(prefix):] if rule.startswith(prefix) else rule
                rows += 1
                m = names.get(policy)
                if m is None or rule not in m.names:
                    continue
                rows_translated += 1
                resources = [str(r).rsplit("/", 1)[-1] for r in result.get("resources") or []]
                if not any((policy, rule, r) in differing for r in resources):
                    rows_unchanged += 1
    print(f"policies migrated whole: {whole}/{policies} ({100 * whole / max(policies, 1):.1f}%)")
    print(f"rules translated: {translated}/{rules} ({100 * translated / max(rules, 1):.1f}%)")
    print(f"result rows about translated rules: {rows_translated}/{rows}; verdict unchanged: "
          f"{rows_unchanged}/{rows_translated} ({100 * rows_unchanged / max(rows_translated, 1):.1f}%); "
          f"unchanged over all rows: {100 * rows_unchanged / max(rows, 1):.1f}%")
    print(f"test files not run: {errors}")
    print("why rules were left untranslated (most common):")
    for why, n in reasons.most_common(12):
        print(f"  {n:4d}  {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
