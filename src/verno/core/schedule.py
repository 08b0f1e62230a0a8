"""Cron schedules (DeletingPolicy ``spec.schedule``, CleanupPolicy): checked when a policy is loaded, and the
next run after a time, with croniter (five fields, ``@hourly``/``@daily``/... macros, ``L``, ``W``, ``#``).
A schedule croniter cannot read is an error saying what a schedule looks like."""
from __future__ import annotations

from datetime import datetime

__all__ = ["check_schedule", "next_run"]


def check_schedule(expression: str) -> None:
    """Raise ValueError (a model validation error) for a schedule that is not a cron expression."""
    from croniter import croniter

    if not isinstance(expression, str) or not expression.strip() or len(expression) > 256 \
            or not croniter.is_valid(expression):
        raise ValueError(f"invalid schedule {expression!r}: expected a cron expression such as '*/5 * * * *' "
                         "(minute hour day-of-month month day-of-week) or a macro such as '@daily'")


def next_run(expression: str, after: datetime) -> datetime:
    """The first time the schedule fires strictly after ``after`` (timezone-aware in, timezone-aware out)."""
    from croniter import croniter

    return croniter(expression, after).get_next(datetime)
