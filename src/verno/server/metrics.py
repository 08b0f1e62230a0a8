"""Prometheus metrics in the text exposition format (version 0.0.4), without a client library.

Labels never carry resource names or namespaces: endpoint, operation, kind, allowed; policy, rule,
result. Each worker process keeps its own values (a scrape reaches one worker).
"""
from __future__ import annotations

import bisect
import threading
from typing import Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Counter:
    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Iterable[str] = ()):
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self.values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self.values[labels] = self.values.get(labels, 0.0) + amount

    def get(self, *labels: str) -> float:
        return self.values.get(labels, 0.0)

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted(self.values.items())
        return [f"{self.name}{_labels(self.label_names, k)} {_num(v)}" for k, v in items]


class Gauge(Counter):
    kind = "gauge"

    def set(self, *labels: str, value: float) -> None:
        with self._lock:
            self.values[labels] = value


class Histogram:
    kind = "histogram"

    def __init__(self, name: str, help_text: str, labels: Iterable[str] = (),
                 buckets: tuple[float, ...] = LATENCY_BUCKETS):
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self.buckets = tuple(sorted(buckets))
        #: labels -> [count per bucket (non-cumulative) ..., +Inf bucket, sum]
        self.values: dict[tuple[str, ...], list[float]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            row = self.values.get(labels)
            if row is None:
                row = self.values[labels] = [0.0] * (len(self.buckets) + 2)
            row[index] += 1
            row[-1] += value

    def count(self, *labels: str) -> float:
        row = self.values.get(labels)
        return sum(row[:-1]) if row else 0.0

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self.values.items())
        out: list[str] = []
        for labels, row in items:
            running = 0.0
            for bound, n in zip(self.buckets + (float("inf"),), row[:-1]):
                running += n
                le = 'le="' + _num(bound) + '"'
                out.append(f"{self.name}_bucket{_labels(self.label_names, labels, le)} {_num(running)}")
            out.append(f"{self.name}_sum{_labels(self.label_names, labels)} {_num(row[-1])}")
            out.append(f"{self.name}_count{_labels(self.label_names, labels)} {_num(running)}")
        return out


class Metrics:
    """The server's metrics."""

    def __init__(self) -> None:
        req = ("endpoint", "operation", "kind", "allowed")
        self.requests = Counter("verno_admission_requests_total", "Admission requests answered.", req)
        self.latency = Histogram("verno_admission_request_duration_seconds",
                                 "Time from request received to response sent.", req)
        self.rule_results = Counter("verno_policy_rule_results_total", "Rule results of admission requests.",
                                    ("endpoint", "policy", "rule", "result"))
        self.not_evaluated = Counter("verno_admission_not_evaluated_total",
                                     "Requests answered by failurePolicy (timeout or engine error).",
                                     ("endpoint", "reason"))
        self.bad_requests = Counter("verno_admission_bad_requests_total", "Malformed request bodies.",
                                    ("endpoint",))
        self.policies = Gauge("verno_policies_loaded", "Policies in the current snapshot.")
        self.generation = Gauge("verno_policy_generation", "Policy snapshot generation.")
        self.reloads = Counter("verno_policy_reloads_total", "Policy reloads.", ("result",))
        self.load_failing = Gauge("verno_policy_load_failing",
                                  "1 while the last policy load failed (the last good set keeps serving).")

    def all(self) -> list[Counter | Histogram]:
        return [self.requests, self.latency, self.rule_results, self.not_evaluated, self.bad_requests,
                self.policies, self.generation, self.reloads, self.load_failing]

    def render(self) -> str:
        lines: list[str] = []
        for metric in self.all():
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"
