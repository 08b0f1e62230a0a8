"""Time functions with Go's ``time`` semantics (K: pkg/engine/jmespath/time.go).

Times are RFC 3339 strings unless a Go layout is given; durations are Go duration strings.
"""
from __future__ import annotations

from verno.core.jmespath.functions import _gotime
from verno.core.jmespath.functions._go import fn_error, format_duration, parse_duration
from verno.core.jmespath.functions._gotime import RFC3339, GoTime
from verno.core.jmespath.functions._spec import S, Spec


def _time(function: str, value: str, layout: str = RFC3339) -> GoTime:
    try:
        return _gotime.parse(layout, value)
    except ValueError as exc:
        raise fn_error(function, str(exc)) from None


def _duration(function: str, value: str) -> int:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise fn_error(function, str(exc)) from None


def time_since(layout: str, start: str, end: str) -> str:
    """``end - start`` as a Go duration; ``layout`` defaults to RFC 3339 and ``end`` to now."""
    layout = layout or RFC3339
    t1 = _time("time_since", start, layout)
    t2 = _time("time_since", end, layout) if end else _gotime.now()
    return format_duration(t2.ns - t1.ns)


def time_now() -> str:
    return _gotime.now().rfc3339()


def time_now_utc() -> str:
    return _gotime.now().utc().rfc3339()


def time_to_cron(t: str) -> str:
    """``minute hour day month weekday`` of the time in its own zone."""
    local = _time("time_to_cron", t).local()
    weekday = (local.weekday() + 1) % 7  # Go: Sunday == 0
    return f"{local.minute} {local.hour} {local.day} {local.month} {weekday}"


def time_add(t: str, duration: str) -> str:
    return _time("time_add", t).add(_duration("time_add", duration)).rfc3339()


def time_parse(layout: str, t: str) -> str:
    """Parse ``t`` with a Go layout (a numeric layout means Unix seconds) and render RFC 3339."""
    if layout.lstrip("+-").isdigit():
        try:
            seconds = int(t)
        except ValueError:
            raise fn_error("time_parse", f'strconv.ParseInt: parsing "{t}": invalid syntax') from None
        return _gotime.from_unix(seconds).rfc3339()
    return _time("time_parse", t, layout).rfc3339()


def time_utc(t: str) -> str:
    return _time("time_utc", t).utc().rfc3339()


def time_diff(t1: str, t2: str) -> str:
    return format_duration(_time("time_diff", t2).ns - _time("time_diff", t1).ns)


def time_before(t1: str, t2: str) -> bool:
    return _time("time_before", t1).ns < _time("time_before", t2).ns


def time_after(t1: str, t2: str) -> bool:
    return _time("time_after", t1).ns > _time("time_after", t2).ns


def time_between(t: str, start: str, end: str) -> bool:
    value = _time("time_between", t).ns
    return _time("time_between", start).ns < value < _time("time_between", end).ns


def time_truncate(t: str, duration: str) -> str:
    return _time("time_truncate", t).truncate(_duration("time_truncate", duration)).rfc3339()


FUNCTIONS = [
    Spec("time_since", time_since, [S, S, S], "string",
         "calculate the difference between a start and end period of time where the end may either be a "
         "static definition or the then-current time"),
    Spec("time_now", time_now, [], "string", "returns current time in RFC 3339 format"),
    Spec("time_now_utc", time_now_utc, [], "string", "returns current UTC time in RFC 3339 format"),
    Spec("time_to_cron", time_to_cron, [S], "string", "converts a time (RFC 3339) to a cron expression (string)."),
    Spec("time_add", time_add, [S, S], "string", "adds duration (second string) to a time value (first string)"),
    Spec("time_parse", time_parse, [S, S], "string", "changes a time value of a given layout to RFC 3339"),
    Spec("time_utc", time_utc, [S], "string", "calcutes time in UTC from a given time in RFC 3339 format"),
    Spec("time_diff", time_diff, [S, S], "string",
         "calculate the difference between a start and end date in RFC3339 format"),
    Spec("time_before", time_before, [S, S], "boolean",
         "checks if a time is before another time, both in RFC3339 format"),
    Spec("time_after", time_after, [S, S], "boolean",
         "checks if a time is after another time, both in RFC3339 format"),
    Spec("time_between", time_between, [S, S, S], "boolean",
         "checks if a time is between a start and end time, all in RFC3339 format"),
    Spec("time_truncate", time_truncate, [S, S], "string",
         "returns the result of rounding time down to a multiple of duration"),
]
