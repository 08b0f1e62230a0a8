"""Go ``time`` package behaviours: layout-based parsing and RFC 3339 formatting.

A time is kept as ``GoTime(ns, offset)``: nanoseconds since the Unix epoch plus the zone offset in
seconds it was written with, so nothing is lost to Python's microsecond ``datetime``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: seconds from Go's zero time (year 1) to the Unix epoch
_ZERO_TO_UNIX = 62135596800
RFC3339 = "2006-01-02T15:04:05Z07:00"

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


@dataclass(frozen=True)
class GoTime:
    ns: int
    offset: int = 0  # seconds east of UTC

    def local(self) -> datetime:
        secs, _ = divmod(self.ns, 1_000_000_000)
        return (_EPOCH + timedelta(seconds=secs + self.offset)).replace(tzinfo=None)

    def rfc3339(self) -> str:
        text = self.local().strftime("%Y-%m-%dT%H:%M:%S")
        if self.offset == 0:
            return text + "Z"
        sign = "+" if self.offset > 0 else "-"
        hours, minutes = divmod(abs(self.offset) // 60, 60)
        return f"{text}{sign}{hours:02d}:{minutes:02d}"

    def utc(self) -> GoTime:
        return GoTime(self.ns, 0)

    def add(self, ns: int) -> GoTime:
        return GoTime(self.ns + ns, self.offset)

    def truncate(self, d: int) -> GoTime:
        """``Time.Truncate``: round down to a multiple of ``d`` since Go's zero time."""
        if d <= 0:
            return self
        absolute = self.ns + _ZERO_TO_UNIX * 1_000_000_000
        return GoTime(self.ns - absolute % d, self.offset)


def now() -> GoTime:
    current = datetime.now().astimezone()
    offset = int(current.utcoffset().total_seconds()) if current.utcoffset() else 0
    stamp = current.timestamp()
    return GoTime(int(stamp * 1_000_000) * 1000, offset)


# ---------------------------------------------------------------------------------------------------------
# layouts
# ---------------------------------------------------------------------------------------------------------

# (layout chunk, field name, regex); longest chunks first within each family
_CHUNKS: list[tuple[str, str, str]] = [
    ("January", "long_month", "(?i:" + "|".join(_MONTHS) + ")"),
    ("Jan", "month_name", "(?i:" + "|".join(m[:3] for m in _MONTHS) + ")"),
    ("Monday", "weekday", "(?i:" + "|".join(_DAYS) + ")"),
    ("Mon", "weekday", "(?i:" + "|".join(d[:3] for d in _DAYS) + ")"),
    ("MST", "zone_name", "[A-Z]{3,5}|[+-][0-9]{2,4}"),
    ("2006", "year", "[0-9]{4}"),
    ("002", "yday", "[0-9]{3}"),
    ("01", "month", "[0-9]{2}"),
    ("02", "day", "[0-9]{2}"),
    ("03", "hour12", "[0-9]{2}"),
    ("04", "minute", "[0-9]{2}"),
    ("05", "second", "[0-9]{2}"),
    ("06", "year2", "[0-9]{2}"),
    ("__2", "yday", "[ 0-9]{3}"),
    ("_2", "day", " ?[0-9]{1,2}"),
    ("15", "hour", "[0-9]{1,2}"),
    ("1", "month", "[0-9]{1,2}"),
    ("2", "day", "[0-9]{1,2}"),
    ("3", "hour12", "[0-9]{1,2}"),
    ("4", "minute", "[0-9]{1,2}"),
    ("5", "second", "[0-9]{1,2}"),
    ("PM", "ampm", "AM|PM"),
    ("pm", "ampm", "am|pm"),
    ("Z07:00:00", "zone", r"Z|[+-][0-9]{2}:[0-9]{2}:[0-9]{2}"),
    ("-07:00:00", "zone", r"[+-][0-9]{2}:[0-9]{2}:[0-9]{2}"),
    ("Z070000", "zone", r"Z|[+-][0-9]{6}"),
    ("-070000", "zone", r"[+-][0-9]{6}"),
    ("Z07:00", "zone", r"Z|[+-][0-9]{2}:[0-9]{2}"),
    ("-07:00", "zone", r"[+-][0-9]{2}:[0-9]{2}"),
    ("Z0700", "zone", r"Z|[+-][0-9]{4}"),
    ("-0700", "zone", r"[+-][0-9]{4}"),
    ("Z07", "zone", r"Z|[+-][0-9]{2}"),
    ("-07", "zone", r"[+-][0-9]{2}"),
]
_FRACTION = re.compile(r"[.,](0+|9+)(?![0-9])")


@lru_cache(maxsize=256)
def _compile_layout(layout: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    pattern = ""
    fields: list[str] = []
    i = 0
    while i < len(layout):
        frac = _FRACTION.match(layout, i)
        if frac and i > 0:
            digits = frac.group(1)
            sep = re.escape(layout[i])
            if digits[0] == "0":
                pattern += f"{sep}([0-9]{{{len(digits)}}})"
            else:
                pattern += r"(?:[.,]([0-9]+))?"
            fields.append("fraction")
            i = frac.end()
            continue
        for chunk, field, regex in _CHUNKS:
            if layout.startswith(chunk, i):
                pattern += f"({regex})"
                fields.append(field)
                i += len(chunk)
                if field == "second" and not _FRACTION.match(layout, i):
                    # Go accepts a fractional second after the seconds field even if the layout has none
                    pattern += r"(?:[.,]([0-9]+))?"
                    fields.append("fraction")
                break
        else:
            pattern += re.escape(layout[i])
            i += 1
    return re.compile(pattern + r"\Z"), tuple(fields)


def _zone_offset(text: str) -> int:
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours = int(digits[0:2])
    minutes = int(digits[2:4] or 0)
    seconds = int(digits[4:6] or 0)
    return sign * (hours * 3600 + minutes * 60 + seconds)


def parse(layout: str, value: str) -> GoTime:
    """``time.Parse(layout, value)``; ValueError with Go's message shape when it does not fit."""
    regex, fields = _compile_layout(layout)
    m = regex.match(value)
    if not m:
        raise ValueError(f'parsing time "{value}" as "{layout}": cannot parse "{value}" as "{layout}"')
    year, month, day, hour, minute, second, nanos, offset = 1, 1, 1, 0, 0, 0, 0, 0
    yday = -1
    pm: bool | None = None
    for field, text in zip(fields, m.groups()):
        if text is None:
            continue
        if field == "year":
            year = int(text)
        elif field == "year2":
            y = int(text)
            year = y + (1900 if y >= 69 else 2000)
        elif field == "month":
            month = int(text)
        elif field == "long_month":
            month = [x.lower() for x in _MONTHS].index(text.lower()) + 1
        elif field == "month_name":
            month = [x[:3].lower() for x in _MONTHS].index(text.lower()) + 1
        elif field == "day":
            day = int(text.strip())
        elif field == "yday":
            yday = int(text.strip())
        elif field in ("hour", "hour12"):
            hour = int(text)
        elif field == "minute":
            minute = int(text)
        elif field == "second":
            second = int(text)
        elif field == "fraction":
            nanos = int((text + "000000000")[:9])
        elif field == "ampm":
            pm = text.upper() == "PM"
        elif field == "zone":
            offset = _zone_offset(text)
        elif field == "zone_name" and text[0] in "+-":
            offset = _zone_offset(text.ljust(5, "0"))
    if pm is not None:
        if hour > 12:
            raise ValueError(f'parsing time "{value}": hour out of range')
        if pm and hour < 12:
            hour += 12
        elif not pm and hour == 12:
            hour = 0
    if not (1 <= month <= 12):
        raise ValueError(f'parsing time "{value}": month out of range')
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f'parsing time "{value}": {"hour" if hour > 23 else "minute" if minute > 59 else "second"}'
                         " out of range")
    try:
        if yday >= 0:
            base = datetime(year, 1, 1) + timedelta(days=yday - 1)
            month, day = base.month, base.day
        local = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise ValueError(f'parsing time "{value}": day out of range') from None
    secs = int((local - _EPOCH).total_seconds()) - offset
    return GoTime(secs * 1_000_000_000 + nanos, offset)


def parse_rfc3339(value: str) -> GoTime:
    return parse(RFC3339, value)


def from_unix(seconds: int) -> GoTime:
    return GoTime(seconds * 1_000_000_000, 0)

