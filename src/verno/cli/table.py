"""The box table Kyverno's CLI prints."""
from __future__ import annotations

from typing import Sequence


def render(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    sep = "│" + "│".join("─" * (w + 2) for w in widths) + "│"
    lines = [sep, _line(cells[0], widths), sep]
    lines += [_line(r, widths) for r in cells[1:]]
    lines.append(sep)
    return "\n".join(lines)


def _line(row: Sequence[str], widths: Sequence[int]) -> str:
    return "│" + "│".join(f" {c.ljust(w)} " for c, w in zip(row, widths)) + "│"
