"""Compare the Python CEL runtimes on a Pod check: compile once, evaluate many.

Usage: python bench/cel_runtimes.py [requests]   (default 2,000 Pods)

Each request is a fresh Pod dict (the conversion of the object into the runtime's values is part of the
measured cost, as it is in the webhook). The same four checks run as plain Python lambdas first: that is
the baseline every runtime is reported against (ratio = runtime time / lambda time, same run, same Pods).
A runtime that is not installed is reported as such. Candidates:

- ``cel-expr-python`` (Google's CEL C++ runtime with its type checker)
- ``common-expression-language`` (cel-rust bindings; no type checker, no optionals syntax)
- ``cel-python`` (pure Python, ``celpy``)

The semantics probe at the end evaluates expressions whose cel-go result is known and prints what each
runtime returns, so a speed figure is never read without its fidelity.
"""
from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web-0",
        "namespace": "team-a",
        "labels": {"app": "web", "tier": "frontend"},
        "annotations": {"description": "a pod for the benchmark"},
    },
    "spec": {
        "hostNetwork": False,
        "containers": [
            {
                "name": f"c{i}",
                "image": f"registry.example.com/team/app{i}:1.{i}",
                "ports": [{"containerPort": 8080 + i, "protocol": "TCP"}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False},
            }
            for i in range(3)
        ],
    },
}

# The same check in CEL (with optionals) and, for runtimes without optionals, with has().
CHECKS = [
    "object.spec.containers.all(c, has(c.securityContext) && c.securityContext.runAsNonRoot == true)",
    "!has(object.spec.hostNetwork) || object.spec.hostNetwork == false",
    "object.metadata.?labels[?'app'].orValue('') != ''",
    "object.spec.containers.all(c, !c.image.endsWith(':latest'))",
]
CHECKS_NO_OPTIONALS = CHECKS[:2] + [
    "has(object.metadata.labels) && 'app' in object.metadata.labels && object.metadata.labels.app != ''",
    CHECKS[3],
]
LAMBDAS: list[Callable[[dict], bool]] = [
    lambda o: all("securityContext" in c and c["securityContext"].get("runAsNonRoot") is True
                  for c in o["spec"]["containers"]),
    lambda o: o["spec"].get("hostNetwork", False) is False,
    lambda o: (o["metadata"].get("labels") or {}).get("app", "") != "",
    lambda o: all(not c["image"].endswith(":latest") for c in o["spec"]["containers"]),
]

# (expression, the cel-go result); an error result is written "error".
PROBES = [
    ("9223372036854775807 + 1", "error"),
    ("1u - 2u", "error"),
    ("1 / 0", "error"),
    ("dyn(1) == 1.0", True),
    ("dyn(1) < 2.5", True),
    ("dyn('1') == 1", False),
    ("{'a': 1}.?b.orValue(2)", 2),
    ("[1, 2, 3].exists_one(x, x > 2)", True),
    ("[0, 1].exists(x, 1 / x == 1)", True),
    ("[0, 1].all(x, 1 / x == 5)", False),
    ("has({'a': 1}.a)", True),
    ("{'a': 1}.b", "error"),
    ("[1, 2].all(i, v, v > i)", True),
    ("b'\\xff'.size()", 1),
    ("string(b'\\xff')", "error"),
]


def requests(count: int) -> list[dict]:
    return [copy.deepcopy(POD) for _ in range(count)]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_lambdas(pods: list[dict]) -> float:
    def run():
        for pod in pods:
            for check in LAMBDAS:
                assert check(pod) is True
    return timed(run)


def bench_cel_expr_python(pods: list[dict]) -> tuple[float, float, Callable[[str], object]]:
    from cel_expr_python import cel

    config = cel.NewEnvConfigFromYaml(
        "name: bench\nextensions:\n- name: optional\n- name: strings\n- name: two-var-comprehensions\n")
    env = cel.NewEnv(config=config, variables={"object": cel.Type.DYN})
    compile_time = timed(lambda: [env.compile(expr) for expr in CHECKS])
    programs = [env.compile(expr) for expr in CHECKS]

    def run():
        for pod in pods:
            activation = env.Activation({"object": pod})
            for program in programs:
                assert program.eval(activation).value() is True
    probe_env = cel.NewEnv(config=config)

    def probe(expr: str) -> object:
        value = probe_env.compile(expr).eval()
        return "error" if value.type() == cel.Type.ERROR else value.value()
    return compile_time, timed(run), probe


def bench_cel_rust(pods: list[dict]) -> tuple[float, float, Callable[[str], object]]:
    import cel as celrust

    compile_time = timed(lambda: [celrust.compile(expr) for expr in CHECKS_NO_OPTIONALS])
    programs = [celrust.compile(expr) for expr in CHECKS_NO_OPTIONALS]

    def run():
        for pod in pods:
            context = celrust.Context(variables={"object": pod})
            for program in programs:
                assert program.execute(context) is True

    def probe(expr: str) -> object:
        try:
            return celrust.evaluate(expr)
        except Exception:  # noqa: BLE001 - every failure is the CEL "error" outcome here
            return "error"
    return compile_time, timed(run), probe


def bench_celpy(pods: list[dict]) -> tuple[float, float, Callable[[str], object]]:
    import celpy

    env = celpy.Environment()
    compile_time = timed(lambda: [env.program(env.compile(expr)) for expr in CHECKS_NO_OPTIONALS])
    programs = [env.program(env.compile(expr)) for expr in CHECKS_NO_OPTIONALS]

    def run():
        for pod in pods:
            activation = {"object": celpy.json_to_cel(pod)}
            for program in programs:
                assert bool(program.evaluate(activation)) is True

    def probe(expr: str) -> object:
        try:
            result = env.program(env.compile(expr)).evaluate({})
        except Exception:  # noqa: BLE001
            return "error"
        if isinstance(result, celpy.CELEvalError):
            return "error"
        if isinstance(result, celpy.celtypes.BoolType):  # celpy wraps results (BoolType, IntType, ...)
            return bool(result)
        for plain in (int, float, str):
            if isinstance(result, plain):
                return plain(result)
        return result
    return compile_time, timed(run), probe


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    checks = len(CHECKS) * count
    base = bench_lambdas(requests(count))
    print(f"{count} Pods x {len(CHECKS)} checks; per-check time includes converting the Pod once per request")
    print(f"{'runtime':28} {'compile 4':>10} {'per check':>11} {'vs lambda':>10}  "
          f"semantics probe (of {len(PROBES)})")
    print(f"{'python lambda (baseline)':28} {'-':>10} {base / checks * 1e6:>9.2f}us {1.0:>9.1f}x")
    for name, bench in (("cel-expr-python", bench_cel_expr_python),
                        ("common-expression-language", bench_cel_rust),
                        ("cel-python", bench_celpy)):
        try:
            compile_time, run_time, probe = bench(requests(count))
        except ImportError:
            print(f"{name:28} not installed")
            continue
        except Exception as exc:  # noqa: BLE001 - a runtime that cannot run the check is reported, not fatal
            print(f"{name:28} failed: {type(exc).__name__}: {exc}")
            continue
        wrong = []
        for expr, expected in PROBES:
            try:
                got = probe(expr)
            except Exception:  # noqa: BLE001
                got = "crash"
            if got != expected or type(got) is not type(expected):
                wrong.append(f"{expr} => {got!r}")
        print(f"{name:28} {compile_time * 1e3:>8.2f}ms {run_time / checks * 1e6:>9.2f}us "
              f"{run_time / base:>9.1f}x  {len(PROBES) - len(wrong)} right"
              + (f"; wrong: {'; '.join(wrong)}" if wrong else ""))


if __name__ == "__main__":
    main()
