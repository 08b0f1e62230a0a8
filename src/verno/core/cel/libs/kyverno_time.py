"""Kyverno's ``kyverno.time`` library: ``time.now()``, ``time.truncate(timestamp, duration)`` and
``time.toCron(timestamp)`` (``"<minute> <hour> <day> <month> <weekday>"``, no padding, Sunday is 0).

Timestamps reach Python with microsecond precision (the runtime's conversion); ``time.truncate`` rounds
down to a multiple of the duration since Go's zero time (0001-01-01 UTC), as Go's ``Time.Truncate``.
"""
from __future__ import annotations

import datetime

from verno.core.cel.library import Library

__all__ = ["libraries"]

_UTC = datetime.timezone.utc
_ZERO = datetime.datetime(1, 1, 1, tzinfo=_UTC)


def _utc(ts: datetime.datetime) -> datetime.datetime:
    return ts.replace(tzinfo=_UTC) if ts.tzinfo is None else ts.astimezone(_UTC)


def now() -> datetime.datetime:
    return datetime.datetime.now(_UTC)


def truncate(ts: datetime.datetime, duration: datetime.timedelta) -> datetime.datetime:
    ts = _utc(ts)
    step = duration // datetime.timedelta(microseconds=1)
    if step <= 0:
        return ts
    since = (ts - _ZERO) // datetime.timedelta(microseconds=1)
    return ts - datetime.timedelta(microseconds=since % step)


def to_cron(ts: datetime.datetime) -> str:
    ts = _utc(ts)
    return f"{ts.minute} {ts.hour} {ts.day} {ts.month} {ts.isoweekday() % 7}"


def libraries() -> list[Library]:
    lib = Library("kyverno.time")
    lib.fn("time.now", [], "timestamp", now, overload_id="kyverno.time_now")
    lib.fn("time.truncate", ["timestamp", "duration"], "timestamp", truncate, overload_id="kyverno.time_truncate")
    lib.fn("time.toCron", ["timestamp"], "string", to_cron, overload_id="kyverno.time_to_cron")
    return [lib]
