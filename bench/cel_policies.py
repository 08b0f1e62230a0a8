"""Benchmark: the 16 Pod Security Standards controls as ValidatingPolicies (CEL) against the same controls as
ClusterPolicies (patterns), in the same run, over the same generated Deployments.

Both sets live in bench/webhook/ (``pss`` and ``pss-cel``); both reach Deployments through autogen. Every
run is checked: each policy must give each Deployment the same verdict in both languages (engine), and
``verno apply`` must print the same pass/fail counts for both sets; any difference stops the bench.

Prints: ``verno apply`` wall time for each set and their ratio (CEL / patterns), the engine-only CPU time per
resource for each (on fresh requests; CEL as ``verno apply`` runs it, with the float64 copy of the resource),
and the CEL cost per expression, with the part the runtime alone takes (one conversion of the object per
resource and the evaluation of each expression).

    python bench/cel_policies.py [--count 10000] [--repeat 1]
"""
from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from workload import deployments, write_yaml  # noqa: E402

PATTERNS = HERE / "webhook" / "pss" / "pss.yaml"
CEL = HERE / "webhook" / "pss-cel" / "pss.yaml"
SUMMARY = re.compile(r"^pass: (\d+), fail: (\d+), warn: (\d+), error: (\d+), skip: (\d+) ?$", re.M)
VERNO_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class BenchError(SystemExit):
    """The two sets disagree: the figures would compare different work."""


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def apply_counts(verno: str, policies: Path, resources: str) -> tuple[int, ...]:
    proc = subprocess.run([verno, "apply", str(policies), "-r", resources], capture_output=True, text=True,
                          env=VERNO_ENV)
    found = SUMMARY.findall(proc.stdout)
    if len(found) != 1:
        raise BenchError(f"verno apply {policies}: exit {proc.returncode}, no single summary line\n"
                         f"{proc.stdout[-400:]}\n{proc.stderr[-400:]}")
    return tuple(int(x) for x in found[0])


def verdicts(docs: list[dict]) -> tuple[dict, dict, float, float, int]:
    """Per (policy, resource) verdicts of both sets, and the engine seconds of each."""
    from verno.cli.session import Session
    from verno.core.engine import Engine
    from verno.core.policykinds import KindInputs
    from verno.core.policyset import load_policy_set

    engine = Engine()
    patterns = load_policy_set(engine, [str(PATTERNS)])
    cel = load_policy_set(engine, [str(CEL)])
    session = Session.build(None, None)
    inputs = KindInputs(session.sources, cel.companions, engine=engine)
    requests = [session.request(d) for d in docs]
    expressions = sum(len(p.document["spec"].get("validations") or []) for p in cel.kind_policies)

    def outcome(responses) -> dict:
        out = {}
        for r in responses:
            for rule in r.rules:
                out[r.policy.name] = rule.status.value
        return out

    got_p, got_c = {}, {}
    for i, req in enumerate(requests):  # once, checked (compiles what is compiled once per policy)
        got_p[i] = outcome(engine.evaluate(patterns.policies, req, sources=session.sources))
        got_c[i] = outcome(session.evaluate_kinds(engine, cel.kind_policies, docs[i], inputs))
    # timed on fresh requests (nothing memoized per resource), CEL as `verno apply` runs it (the resource's
    # float64 copy, measured for the cost bound in the same walk)
    requests = [session.request(d) for d in docs]
    gc.collect()
    start = time.process_time()
    for req in requests:
        engine.evaluate(patterns.policies, req, sources=session.sources)
    t_patterns = time.process_time() - start
    gc.collect()
    start = time.process_time()
    for doc in docs:
        session.evaluate_kinds(engine, cel.kind_policies, doc, inputs)
    t_cel = time.process_time() - start
    return got_p, got_c, t_patterns, t_cel, expressions, runtime_cost(cel.kind_policies, requests)


def runtime_cost(policies, requests) -> float:
    """Seconds the CEL runtime alone spends on the requests: one activation per request (the conversion of
    the object) and every validation of the variant that applies (the floor under the engine's figure)."""
    from verno.core.cel.admission import admission_inputs

    programs = []
    for policy in policies:
        variant = next(v for v in policy.variants if v.match is not None and v.match.matches(requests[0]))
        programs.extend(v.program for v in variant.validations)
    env = programs[0].runtime_env
    data = [{**admission_inputs(r, None), "namespaceObject": {}} for r in requests]
    gc.collect()
    start = time.process_time()
    for d in data:
        activation = env.Activation(d)
        for program in programs:
            program.compiled.eval(activation)
    return time.process_time() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    verno = shutil.which("verno") or sys.exit("verno is not installed")
    tmp = tempfile.mkdtemp(prefix="verno-cel-bench-")
    try:
        docs = deployments(a.count)
        path = os.path.join(tmp, "deployments.yaml")
        write_yaml(path, docs)
        got_p, got_c, t_p, t_c, expressions, t_rt = verdicts(docs[:2000])
        differ = [(i, k, got_p[i].get(k), got_c[i].get(k)) for i in got_p for k in set(got_p[i]) | set(got_c[i])
                  if got_p[i].get(k) != got_c[i].get(k)]
        if differ:
            raise BenchError(f"{len(differ)} verdicts differ (resource, policy, patterns, CEL): {differ[:10]}")
        n_eval = min(len(docs), 2000)
        print(f"16 PSS controls, {n_eval} Deployments, same verdicts in both languages "
              f"({sum(v == 'fail' for r in got_c.values() for v in r.values())} fails)")
        print(f"engine: patterns {t_p / n_eval * 1e6:.0f} µs per Deployment, CEL {t_c / n_eval * 1e6:.0f} µs "
              f"(ratio CEL/patterns {t_c / t_p:.2f}x); CEL {t_c / (n_eval * expressions) * 1e6:.1f} µs per expression, "
              f"of which the runtime (conversion and evaluation) {t_rt / (n_eval * expressions) * 1e6:.1f} µs")
        counts = {}

        def run(which: Path) -> None:
            counts[which] = apply_counts(verno, which, path)

        t_apply_p = timed(lambda: run(PATTERNS), a.repeat)
        t_apply_c = timed(lambda: run(CEL), a.repeat)
        if counts[PATTERNS][:2] != counts[CEL][:2]:
            raise BenchError(f"verno apply counts differ: patterns {counts[PATTERNS]}, CEL {counts[CEL]}")
        print(f"verno apply, {len(docs)} Deployments: patterns {t_apply_p:.2f}s, CEL {t_apply_c:.2f}s "
              f"(ratio CEL/patterns {t_apply_c / t_apply_p:.2f}x); pass/fail {counts[CEL][:2]} in both")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
