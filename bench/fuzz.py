"""Long fuzz runs of ``verno test`` / ``verno apply`` on mutated suites (see tests/fuzz/harness.py).

    python bench/fuzz.py --cases 100000 [--workers 2] [--seed 1] [--corpus ../shared/conformance/kyverno-cli
                         [--corpus-list ../shared/conformance/legacy-subset.txt]]

One case in five is a random JMESPath expression over Kyverno's functions. Seeds are the project's own suites, plus every suite of Kyverno's CLI corpus when ``--corpus`` points at
it. Prints the number of cases, how many showed a problem (an exception, an internal error, an error
naming no file, an unexpected exit code) and the distinct problem signatures with an example of each.
Exit code 1 when any case showed a problem.
"""
from __future__ import annotations

import argparse
import collections
import multiprocessing
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))
import harness  # noqa: E402

SEEDS: list[harness.Seed] = []
FUNCTIONS: list[str] = []
#: every EXPRESSION_EVERY-th case is a random JMESPath expression instead of a mutated suite
EXPRESSION_EVERY = 5
DOCUMENT = {"metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.0"}]}, "items": [1, "a", None, {"b": [2]}]}


def _init(corpus: str | None, corpus_list: str | None) -> None:
    SEEDS.extend(harness.project_seeds())
    if corpus:
        suites = sorted(Path(corpus).rglob("kyverno-test.yaml"))
        if corpus_list:
            listed = {line.split("\t")[0].strip() for line in open(corpus_list) if line.strip()}
            suites = [t for t in suites if any(str(t.parent.relative_to(corpus)).startswith(s) for s in listed)]
        for test_file in suites:
            try:
                seed = harness.load_seed(test_file.parent)
            except Exception:  # an unreadable corpus file is no seed
                continue
            if seed is not None:
                SEEDS.append(seed)
    harness.shared_engine()
    FUNCTIONS.extend(harness.function_names())


def _work(args: tuple[int, int]) -> tuple[int, list[tuple[str, str]]]:
    start, count = args
    found = []
    for n in range(start, start + count):
        rng = random.Random(n)
        if n % EXPRESSION_EVERY == EXPRESSION_EVERY - 1:
            expression = harness.random_expression(rng, FUNCTIONS)
            problem = harness.expression_problem(expression, DOCUMENT)
            if problem:
                found.append((problem, f"case {n}: {expression[:200]}"))
            continue
        case = harness.make_case(rng.choice(SEEDS), rng)
        try:
            runs = harness.run_case(case)
        except Exception as exc:  # the harness itself must not stop a long run
            found.append((f"harness: {type(exc).__name__}: {exc}", f"case {n}"))
            continue
        for run in runs:
            for problem in run.problems:
                found.append((problem, f"case {n}: {' '.join(run.command[:1])} {case.file}"))
    return count, found


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="first case number (cases are reproducible by number)")
    ap.add_argument("--corpus", default=None, help="a directory of Kyverno CLI suites to use as extra seeds")
    ap.add_argument("--corpus-list", default=None, help="only the corpus suites a list file names (e.g. legacy-subset.txt)")
    ap.add_argument("--chunk", type=int, default=200)
    args = ap.parse_args()
    started = time.perf_counter()
    chunks = [(s, min(args.chunk, args.seed + args.cases - s)) for s in range(args.seed, args.seed + args.cases, args.chunk)]
    done = 0
    problems: collections.Counter[str] = collections.Counter()
    examples: dict[str, tuple[str, str]] = {}
    bad_cases = set()
    with multiprocessing.get_context("fork").Pool(args.workers, _init, (args.corpus, args.corpus_list)) as pool:
        for count, found in pool.imap_unordered(_work, chunks):
            done += count
            for problem, where in found:
                sig = harness.signature(problem)
                problems[sig] += 1
                examples.setdefault(sig, (problem, where))
                bad_cases.add(where.split(":")[0])
            if done % 5000 < args.chunk:
                print(f"  {done} cases, {len(bad_cases)} with problems, {len(problems)} signatures "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)
    elapsed = time.perf_counter() - started
    print(f"cases: {done}, cases with problems: {len(bad_cases)}, distinct signatures: {len(problems)}, "
          f"{elapsed:.0f} s ({done / elapsed:.0f} cases/s)")
    for sig, n in problems.most_common():
        problem, where = examples[sig]
        print(f"{n:6d}  {problem[:300]}\n        e.g. {where}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
