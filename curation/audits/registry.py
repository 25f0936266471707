"""Named audits: one documented SQL file each in `sql/`, read once.

A file's leading comment is its documentation; `-- @param NAME TYPE DEFAULT  help` lines
declare its `$NAME` parameters (TYPE: str, int, float, bool, or run: a run index, run id or
folder, bound as the run's index so DuckDB prunes the other runs' files; DEFAULT `null` for
none), and
`-- @check COLUMN` marks an audit whose rows must all have COLUMN true (the CLI exits 1
otherwise).

Parameters are validated before any SQL runs (a bad value is a ValueError naming the
parameter and the allowed values): `-- @range NAME LO HI` bounds a number (inclusive; `-` for
no bound), `-- @choices NAME A B ...` lists a text parameter's values, `-- @order LOW HIGH`
requires LOW <= HIGH. Values that are none of int/float/bool/run are refused for numbers
(NaN and infinities too), so e.g. `threshold_sweep -p reward_step=1e-9` is refused instead of
building a billion-row grid.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa

from .view import AuditView

SQL_DIR = Path(__file__).with_name("sql")
_PARAM = re.compile(r"^--\s*@param\s+(\w+)\s+(str|int|float|bool|run)\s+(\S+)\s*(.*)$")
_CHECK = re.compile(r"^--\s*@check\s+(\w+)\s*$")
_RANGE = re.compile(r"^--\s*@range\s+(\w+)\s+(\S+)\s+(\S+)\s*$")
_CHOICES = re.compile(r"^--\s*@choices\s+(\w+)\s+(.+?)\s*$")
_ORDER = re.compile(r"^--\s*@order\s+(\w+)\s+(\w+)\s*$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None

    def parse(self, text: str | None) -> Any:
        """A command-line string -> the declared type (`null` -> None)."""
        if text is None or text.lower() in ("null", "none"):
            return None
        try:
            if self.type == "int":
                return int(text)
            if self.type == "float":
                return float(text)
        except ValueError:
            raise ValueError(f"parameter {self.name}: expected {self.type}, got {text!r}") from None
        if self.type == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(f"parameter {self.name}: expected true/false, got {text!r}")
        return text


    def check(self, value: Any) -> None:
        """Raise ValueError unless `value` (already parsed) is allowed; None (SQL NULL) always is."""
        if value is None:
            return
        if self.type in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"parameter {self.name}: expected {self.type}, got {value!r}")
            if self.type == "int" and isinstance(value, float) and not value.is_integer():
                raise ValueError(f"parameter {self.name}: expected int, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"parameter {self.name}: expected a finite number, got {value!r}")
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                lo = "-inf" if self.low is None else f"{self.low:g}"
                hi = "inf" if self.high is None else f"{self.high:g}"
                raise ValueError(f"parameter {self.name}: {value!r} is out of range (allowed: {lo} <= "
                                 f"{self.name} <= {hi})")
        elif self.type == "bool" and not isinstance(value, bool):
            raise ValueError(f"parameter {self.name}: expected true/false, got {value!r}")
        if self.choices is not None and str(value) not in self.choices:
            raise ValueError(f"parameter {self.name}: {value!r} is not one of {', '.join(self.choices)}")

    def describe_bounds(self) -> str:
        if self.choices is not None:
            return "one of " + "|".join(self.choices)
        if self.low is None and self.high is None:
            return ""
        lo = "" if self.low is None else f"{self.low:g} <= "
        hi = "" if self.high is None else f" <= {self.high:g}"
        return f"{lo}{self.name}{hi}"


@dataclass(frozen=True)
class Audit:
    name: str
    doc: str
    params: tuple[Param, ...]
    sql: str
    check: str | None = None
    orders: tuple[tuple[str, str], ...] = ()

    def bind(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults, overridden by `overrides` (strings are parsed; unknown names refused)."""
        known = {p.name: p for p in self.params}
        values = {p.name: p.default for p in self.params}
        for k, v in (overrides or {}).items():
            if k not in known:
                raise KeyError(f"audit {self.name} has no parameter {k!r} (has: {', '.join(known) or 'none'})")
            values[k] = known[k].parse(v) if isinstance(v, str) else v
        for p in self.params:
            p.check(values[p.name])
        for lo, hi in self.orders:
            if values[lo] is not None and values[hi] is not None and values[lo] > values[hi]:
                raise ValueError(f"parameters {lo} and {hi}: {lo} ({values[lo]!r}) must not exceed {hi} "
                                 f"({values[hi]!r})")
        return values

    def failed(self, table: pa.Table) -> int:
        """Rows failing the audit's check column (0 when it has none)."""
        if not self.check or table.num_rows == 0:
            return 0
        return sum(1 for v in table.column(self.check).to_pylist() if v is not True)


def _bound(text: str) -> float | None:
    return None if text == "-" else float(text)


def parse_sql_file(path: Path) -> Audit:
    text = path.read_text()
    doc, params, check = [], [], None
    ranges: dict[str, tuple[float | None, float | None]] = {}
    choices: dict[str, tuple[str, ...]] = {}
    orders: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        if m := _PARAM.match(line):
            name, tp, default, help_ = m.groups()
            p = Param(name, tp, None, help_.strip())
            params.append(Param(name, tp, p.parse(default), help_.strip()))
        elif m := _CHECK.match(line):
            check = m.group(1)
        elif m := _RANGE.match(line):
            ranges[m.group(1)] = (_bound(m.group(2)), _bound(m.group(3)))
        elif m := _CHOICES.match(line):
            choices[m.group(1)] = tuple(m.group(2).split())
        elif m := _ORDER.match(line):
            orders.append((m.group(1), m.group(2)))
        else:
            doc.append(line[2:].strip() if not line[2:3] == " " else line[3:])
    names = {p.name for p in params}
    unknown = (set(ranges) | set(choices) | {n for o in orders for n in o}) - names
    if unknown:
        raise ValueError(f"{path.name}: @range/@choices/@order name unknown parameter(s) {sorted(unknown)}")
    params = [Param(p.name, p.type, p.default, p.help, *ranges.get(p.name, (None, None)), choices.get(p.name))
              for p in params]
    audit = Audit(path.stem, "\n".join(doc).strip(), tuple(params), text, check, tuple(orders))
    audit.bind()  # the defaults themselves must pass
    return audit


@lru_cache(maxsize=1)
def audits() -> dict[str, Audit]:
    """Every named audit, by name (the SQL file's stem)."""
    return {p.stem: parse_sql_file(p) for p in sorted(SQL_DIR.glob("*.sql"))}


def get(name: str) -> Audit:
    try:
        return audits()[name]
    except KeyError:
        raise KeyError(f"no audit named {name!r}; audits: {', '.join(audits())}") from None


def run_audit(view: AuditView, name: str, params: Mapping[str, Any] | None = None, /, **kw: Any) -> pa.Table:
    """Run a named audit on the view: `run_audit(view, "threshold_sweep", reward_step=0.05)`."""
    audit = get(name)
    values = audit.bind({**(params or {}), **kw})
    for p in audit.params:
        if p.type == "run":
            try:
                values[p.name] = view.resolve_run(values[p.name])
            except KeyError as e:
                raise KeyError(f"{p.name}: {e.args[0]}") from None
    return view.execute(audit.sql, values)
