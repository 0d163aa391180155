"""Listings on the terminal: rows of facts shown as a table that fits the terminal, or as CSV, JSON or
Markdown for other tools. Standard library only, so a listing starts without importing torch."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Callable

FORMATS = ("table", "csv", "json", "markdown")
WIDTH = 120  # the widest a default table may be


@dataclass(frozen=True)
class Column:
    key: str  # the row's key, as CSV and JSON show it
    header: str  # the table's and Markdown's header
    show: Callable[[Any], str] = str  # the value as the table and Markdown show it
    right: bool = False  # numbers align right


def fixed(digits: int) -> Callable[[Any], str]:
    """Numbers with ``digits`` decimals and thousands separators; a missing one is '-'."""
    return lambda v: "-" if v is None else f"{v:,.{digits}f}"


def scaled(unit: float, digits: int) -> Callable[[Any], str]:
    """A count shown in ``unit``s (1e6: millions) with ``digits`` decimals."""
    return lambda v: "-" if v is None else f"{v / unit:,.{digits}f}"


def text(v: Any) -> str:
    return "-" if v is None or v == "" else str(v)


def render(rows: list[dict], columns: list[Column], fmt: str = "table") -> str:
    """``rows`` in ``fmt`` (one of :data:`FORMATS`): CSV and JSON carry every key of every row unformatted;
    the table and Markdown show ``columns`` formatted."""
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False, default=str)
    if fmt == "csv":
        out = io.StringIO()
        keys = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(out, keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in r.items()}
                         for r in rows)
        return out.getvalue().rstrip("\n")
    cells = [[c.show(r.get(c.key)) for c in columns] for r in rows]
    if fmt == "markdown":
        lines = [[c.header for c in columns], ["---:" if c.right else "---" for c in columns], *cells]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    return _table(cells, columns)


def _table(cells: list[list[str]], columns: list[Column]) -> str:
    widths = [max([len(c.header)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]

    def line(values):
        return "  ".join(v.rjust(w) if c.right else v.ljust(w)
                         for v, w, c in zip(values, widths, columns)).rstrip()
    return "\n".join([line([c.header for c in columns]), *map(line, cells)])
