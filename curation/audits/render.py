"""Audit results (Arrow tables) as an aligned terminal table, CSV or JSON."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
from typing import Any

import pyarrow as pa

FORMATS = ("table", "csv", "json")


def _plain(v: Any) -> Any:
    """JSON-safe value: NaN -> None, dates -> ISO text, Decimal -> float, bytes -> length note."""
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (bytes, bytearray)):
        return f"<{len(v)} bytes>"
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _cell(v: Any, float_digits: int) -> str:
    """One value as terminal text: floats to `float_digits` significant digits, lists joined."""
    v = _plain(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{float_digits}g}" if v != 0 else "0"
    if isinstance(v, list):
        return ", ".join(_cell(x, float_digits) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, default=str)
    return str(v).replace("\n", " ")


def to_table(table: pa.Table, max_width: int = 60, float_digits: int = 4) -> str:
    """An aligned text table (numbers right-aligned, long cells cut with an ellipsis)."""
    names = table.column_names
    if not names:
        return "(no columns)"
    cols = [table.column(n).to_pylist() for n in names]
    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
               for f in table.schema]
    text = [[_cell(v, float_digits) for v in col] for col in cols]
    text = [[t if len(t) <= max_width else t[: max_width - 1] + "…" for t in col] for col in text]
    widths = [max([len(n)] + [len(t) for t in col]) for n, col in zip(names, text)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(names), "  ".join("-" * w for w in widths)]
    out += [line([col[i] for col in text]) for i in range(table.num_rows)]
    out.append(f"({table.num_rows} row{'s' if table.num_rows != 1 else ''})")
    return "\n".join(out)


def to_csv(table: pa.Table) -> str:
    """CSV with a header; lists and structs as JSON text, missing values empty."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.column_names)
    for row in table.to_pylist():
        w.writerow(["" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else v
                    for v in (_plain(x) for x in row.values())])
    return buf.getvalue()


def to_json(table: pa.Table) -> str:
    """A JSON array of row objects."""
    return json.dumps([_plain(r) for r in table.to_pylist()], indent=1, default=str)


def render(table: pa.Table, fmt: str = "table", **kw: Any) -> str:
    if fmt == "table":
        return to_table(table, **kw)
    if fmt == "csv":
        return to_csv(table)
    if fmt == "json":
        return to_json(table)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
