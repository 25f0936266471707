"""Named audits: one documented SQL file each in `sql/`, read once.

A file's leading comment is its documentation; `-- @param NAME TYPE DEFAULT  help` lines
declare its `$NAME` parameters (TYPE: str, int, float, bool, or run: a run index, run id or
folder, bound as the run's index so DuckDB prunes the other runs' files; DEFAULT `null` for
none), and
`-- @check COLUMN` marks an audit whose rows must all have COLUMN true (the CLI exits 1
otherwise).
"""

from __future__ import annotations

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
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    help: str

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


@dataclass(frozen=True)
class Audit:
    name: str
    doc: str
    params: tuple[Param, ...]
    sql: str
    check: str | None = None

    def bind(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults, overridden by `overrides` (strings are parsed; unknown names refused)."""
        known = {p.name: p for p in self.params}
        values = {p.name: p.default for p in self.params}
        for k, v in (overrides or {}).items():
            if k not in known:
                raise KeyError(f"audit {self.name} has no parameter {k!r} (has: {', '.join(known) or 'none'})")
            values[k] = known[k].parse(v) if isinstance(v, str) else v
        return values

    def failed(self, table: pa.Table) -> int:
        """Rows failing the audit's check column (0 when it has none)."""
        if not self.check or table.num_rows == 0:
            return 0
        return sum(1 for v in table.column(self.check).to_pylist() if v is not True)


def parse_sql_file(path: Path) -> Audit:
    text = path.read_text()
    doc, params, check = [], [], None
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        if m := _PARAM.match(line):
            name, tp, default, help_ = m.groups()
            p = Param(name, tp, None, help_.strip())
            params.append(Param(name, tp, p.parse(default), help_.strip()))
        elif m := _CHECK.match(line):
            check = m.group(1)
        else:
            doc.append(line[2:].strip() if not line[2:3] == " " else line[3:])
    return Audit(path.stem, "\n".join(doc).strip(), tuple(params), text, check)


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
