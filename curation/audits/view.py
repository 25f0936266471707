"""A read-only DuckDB view over one or more scoring runs' output folders.

`AuditView(["out_a/", "out_b/"])` opens an in-memory DuckDB whose catalog holds:

| name                  | one row per                    | from                                         |
|-----------------------|--------------------------------|----------------------------------------------|
| `samples`             | output row, without image bytes | `task=*/decision=*/*.parquet` (task, decision: the two folders) |
| `samples_with_images` | output row, with `image` and `source_image` `{bytes, path}` |  same           |
| `input_ids`           | INPUT row (before duplicate collapsing) | `.run/input_ids.pq`                 |
| `runs`                | run folder                     | `.run/manifest.json` (+ `.run/summary.json`) |
| `run_partitions`      | planned input partition        | manifest `partitions` / `expected_rows` / `finished` |
| `run_files`           | shard file, listed or on disk  | manifest `finished[*].files` + the folder    |
| `run_config`          | flattened config key           | manifest `config`                            |
| `scores`              | (output row, score) with a value | `samples`, one branch per score of `judges.score_names()` |
| `failure_mode_vocab`, `decision_vocab` | allowed value | `curation.schema`                          |

Every row-level view carries `run_index` (0 = first folder given), `run_dir` and `run` (the
folder's run id from its manifest; `run_id` stays the id written on the row, so a shard copied
in from another run is visible). `samples` also has `shard_file` (the Parquet file it came
from). Stage columns that a run did not produce (e.g. reward sub-scores) are added as NULL so
every audit works on every run.

`scores` is the long form the score audits and the report read: `score` is `reward` (the task's
reward judge), a check judge's stage (`vqa`) or a sub-score column (`img_reward_alignment`, ...),
`score_order` its place in `judges.score_names()`, `value` the score, `model` the model id of the
judge that gave it, and `mode` the failure mode the score stands for on that row (a sub-score's
mode, a check judge's mode on the row's task; NULL for `reward`). It is generated from the judge
registry (`curation/judges.py`), so a new judge's sub-scores reach every score audit.

Shards are read lazily through views: DuckDB reads only the columns a query names, so image
bytes are never loaded unless a query selects them (`samples_with_images`).

Ad-hoc SQL (`AuditView.sql`) is read-only: statements are parsed first and only reads are run
(SELECT/WITH/FROM/VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN of a read, PRAGMA table_info and a
few other read pragmas). Read-only is not the whole sandbox; every connection also has:

- file access limited to the run folders given (`enable_external_access = false` with the
  folders as `allowed_directories`): `read_text('/etc/passwd')`, `glob('/root/**')`, URLs,
  ATTACH, COPY are refused by DuckDB itself; a run folder holding a link that leaves it is refused;
- no extension installing or autoloading (httpfs would give network access);
- a memory limit and a spill directory inside a private scratch folder (removed on close),
  with a cap on its size, never `./.tmp` in the working directory;
- a statement timeout: a query still running after `timeout` seconds is interrupted and
  raises `QueryTimeout` with a clear message;
- the configuration locked after set-up (`lock_configuration`), so SQL cannot undo any of it.

Paths are data: the view lists the shard files in Python and puts each into SQL as a quoted
literal with its glob characters escaped (`[`, `*`, `?`), so a run folder named `r[1]`, `r*` or
`bob's run` reads exactly its own shards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .. import judges
from .. import schema as S
from ..shards import OutputLayout, shard_key

def _stage_columns() -> dict[str, str]:
    cols = {S.REWARD_SCORE: "DOUBLE"}
    for j in judges.JUDGES:
        cols[j.column("score")] = "DOUBLE"
        cols.update({c: "DOUBLE" for c in j.sub_score_columns})
        cols[j.column("model_id")] = "VARCHAR"
        cols[j.column("model_revision")] = "VARCHAR"
    return cols


KNOWN_STAGE_COLUMNS: dict[str, str] = _stage_columns()
"""Columns audits may name (every judge's score, sub-scores and model, from the judge registry);
added as typed NULLs where a run lacks them."""

CORE_COLUMNS: dict[str, str] = {
    "sample_id": "VARCHAR", "task": "VARCHAR", "prompt": "VARCHAR", "source": "VARCHAR", "meta": "VARCHAR",
    "image": "STRUCT(bytes BLOB, path VARCHAR)", "source_image": "STRUCT(bytes BLOB, path VARCHAR)",
    "decision": "VARCHAR", "failure_modes": "VARCHAR[]", "error": "VARCHAR", "notes": "VARCHAR[]",
    "duplicate_count": "BIGINT", "input_file": "VARCHAR", "input_row": "BIGINT", "input_partition": "VARCHAR",
    "run_id": "VARCHAR", "config_hash": "VARCHAR", "scored_at": "TIMESTAMPTZ", **KNOWN_STAGE_COLUMNS,
}
"""What `samples_with_images` always has (an empty or partial run gets NULL columns)."""

RUNS_SCHEMA = pa.schema(
    [("run_index", pa.int64()), ("run_dir", pa.string()), ("run", pa.string()), ("config_hash", pa.string()),
     ("created_at", pa.string()), ("has_manifest", pa.bool_()), ("has_input_ids", pa.bool_()),
     ("input_root", pa.string()), ("reward_threshold", pa.float64()), ("vqa_threshold", pa.float64()),
     ("sub_score_threshold", pa.float64()), ("input_rows", pa.int64()), ("expected_rows", pa.int64()),
     ("duplicate_rows", pa.int64()), ("partitions", pa.int64()), ("finished_partitions", pa.int64()),
     *((f"{j.stage}_model", pa.string()) for j in judges.JUDGES)])
"""The `runs` table: one row per run folder, from its manifest (NULLs where there is none)."""

ID_COLUMNS = {"input_partition": "VARCHAR", "input_file": "VARCHAR", "input_row": "BIGINT", "sample_id": "VARCHAR"}


class ReadOnlyError(ValueError):
    """An ad-hoc statement that could write or change the session was refused."""


class QueryTimeout(RuntimeError):
    """A statement ran past the view's timeout and was interrupted."""


DEFAULT_TIMEOUT_S = 300.0
"""Statement timeout of every audit connection (`--timeout`)."""


def default_memory_limit() -> str:
    """Half the machine's memory, at most 8 GiB, at least 512 MiB (`--memory-limit`)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return f"{max(512, min(8 << 10, total // 2 // (1 << 20)))}MiB"


DEFAULT_MAX_TEMP = "20GiB"
"""Most spill data a view may write to its scratch folder (`--max-temp`)."""


# ----------------------------------------------------------------------------- read-only guard

READ_PRAGMAS = {"table_info", "show", "show_tables", "show_tables_expanded", "database_size", "version",
                "platform", "storage_info", "metadata_info", "functions", "collations"}
_EXPLAIN = re.compile(r"^\s*EXPLAIN\s*(\([^)]*\)\s*)?(ANALY[SZ]E\s+)?", re.IGNORECASE)
_PRAGMA = re.compile(r"^\s*PRAGMA\s+([A-Za-z_]+)", re.IGNORECASE)


def _strip_comments(sql: str) -> str:
    return re.sub(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", "", sql, flags=re.DOTALL)


ALLOWED = "SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN [ANALYZE] of a read, PRAGMA table_info"


def _refuse(what: str) -> ReadOnlyError:
    return ReadOnlyError(f"refused: {what} - the audit view is read-only (allowed: {ALLOWED})")


def check_read_only(sql: str) -> list:
    """Parse `sql`; return its statements if every one only reads, else raise ReadOnlyError."""
    try:
        statements = duckdb.extract_statements(sql)
        kinds = [st.type.name for st in statements]
    except duckdb.Error as e:
        raise ReadOnlyError(f"cannot parse the query: {e}") from None
    except ValueError:  # a statement type the Python client does not know (e.g. UPDATE EXTENSIONS)
        raise _refuse("a statement of a kind the audit view does not run") from None
    if not statements:
        raise ReadOnlyError("empty query")
    for st, kind in zip(statements, kinds):
        text = _strip_comments(st.query).strip().rstrip(";").strip()
        if kind == "SELECT":
            continue
        if kind == "EXPLAIN":
            # EXPLAIN ANALYZE runs its statement: the inner one must be a read too.
            inner = _EXPLAIN.sub("", text, count=1)
            if inner and inner != text:
                check_read_only(inner)
                continue
        if kind == "PRAGMA":
            m = _PRAGMA.match(text)
            if m and m.group(1).lower() in READ_PRAGMAS:
                continue
        first = text.split(None, 1)[0].upper() if text else kind
        raise _refuse(f"{first} statement ({kind.lower()})" if first != kind else f"{kind} statement")
    return statements


# ----------------------------------------------------------------------------- run folders


@dataclass
class RunFolder:
    """What the view knows about one output folder before reading any shard."""

    index: int
    root: Path
    manifest: dict | None
    summary: dict | None
    shards: list[Path]
    run: str | None
    """The manifest's run id; without a manifest, the id written on the first shard's rows."""

    @property
    def input_ids(self) -> Path | None:
        """The input-id index (`.run/input_ids.pq`, or the older `_run/input_ids.parquet`), if any."""
        return OutputLayout(self.root).find_input_ids()

    @classmethod
    def open(cls, index: int, path: str | Path) -> "RunFolder":
        root = Path(path).resolve()
        if not root.is_dir():
            raise FileNotFoundError(f"run folder {path} does not exist")
        layout = OutputLayout(root)  # the current layout (.run/...) or the older one (_manifest.json, ...)
        manifest = _load_json(layout.find_manifest())
        summary = _load_json(layout.find_summary())
        shards = layout.all_shards()
        if manifest is None and not shards:
            raise FileNotFoundError(f"{path} is not a scoring-job output folder (no .run/manifest.json, no shards)")
        links = _escaping_links(root)
        if links:
            raise ValueError(f"run folder {path} holds link(s) leaving it ({', '.join(links[:5])}): refused, "
                             "the audit view reads only inside its run folders")
        run = (manifest or {}).get("run_id") or (summary or {}).get("run_id")
        if run is None:
            pf = pq.ParquetFile(shards[0])
            if S.RUN_ID in pf.schema_arrow.names and pf.metadata.num_rows:
                run = pf.read_row_group(0, columns=[S.RUN_ID]).column(0)[0].as_py()
        return cls(index, root, manifest, summary, shards, run)


def _load_json(path: Path | None) -> dict | None:
    return json.loads(path.read_text()) if path is not None and path.exists() else None


def _lit(value: Any) -> str:
    """A quoted SQL string literal (paths, run ids): quotes doubled, so any text stays data."""
    if value is None:
        return "NULL"
    text = str(value)
    if "\x00" in text:
        raise ValueError(f"a NUL character cannot appear in a path or id: {text!r}")
    return "'" + text.replace("'", "''") + "'"


_GLOB_CHARS = "*?["


def glob_escape(path: str | Path) -> str:
    """`path` as a DuckDB file pattern that matches exactly that path: each glob character
    (`*`, `?`, `[`) becomes a one-character class (`[*]`, `[?]`, `[[]`)."""
    return "".join(f"[{c}]" if c in _GLOB_CHARS else c for c in str(path))


def _path_lit(path: str | Path) -> str:
    """A file path for a DuckDB reader: glob-escaped, then quoted."""
    return _lit(glob_escape(path))


def _escaping_links(root: Path) -> list[str]:
    """Links under `root` whose target is outside it (they would let SQL read past the sandbox)."""
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                target = p.resolve()
                if target != root and root not in target.parents:
                    bad.append(str(p.relative_to(root)))
    return bad


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else (
            None if value is None else str(value))


def scores_view_sql() -> str:
    """SQL of the long `scores` view: one narrow branch per score (see the module docstring)."""
    cols = "run_index, run, shard_file, sample_id, task, source, decision"
    branches = []
    reward_model = " ".join(f"WHEN {_lit(t)} THEN {j.column('model_id')}"
                            for t in S.TASKS if (j := judges.reward_judge(t)) is not None)
    order = {name: i + 1 for i, name in enumerate(judges.score_names())}
    branches.append(f"SELECT {cols}, 'reward' AS score, {order['reward']} AS score_order, {S.REWARD_SCORE} AS value, "
                    f"CASE task {reward_model} END AS model, NULL::VARCHAR AS mode "
                    f"FROM samples WHERE {S.REWARD_SCORE} IS NOT NULL")
    for j in judges.JUDGES:
        if j.role == "check":
            mode = " ".join(f"WHEN {_lit(t)} THEN {_lit(m)}" for t, m in j.low_score_modes.items())
            branches.append(f"SELECT {cols}, {_lit(j.stage)}, {order[j.stage]}, {j.column('score')}, "
                            f"{j.column('model_id')}, CASE task {mode} END "
                            f"FROM samples WHERE {j.column('score')} IS NOT NULL")
        for col, mode in j.sub_score_columns.items():
            branches.append(f"SELECT {cols}, {_lit(col)}, {order[col]}, {col}, {j.column('model_id')}, {_lit(mode)} "
                            f"FROM samples WHERE {col} IS NOT NULL")
    return "\nUNION ALL ".join(branches)


# ----------------------------------------------------------------------------- the view


class AuditView:
    """An in-memory DuckDB with read-only views over the given run folders, in a sandbox.

    `timeout` (seconds, None = none) bounds each `execute`/`sql` call; `memory_limit` (DuckDB
    size text) bounds memory, beyond it DuckDB spills into `scratch/` (a private folder made
    inside `scratch`, default the system temp folder, removed on close) up to `max_temp`.
    """

    def __init__(self, run_dirs: Iterable[str | Path], threads: int | None = None,
                 memory_limit: str | None = None, timeout: float | None = DEFAULT_TIMEOUT_S,
                 scratch: str | Path | None = None, max_temp: str | None = None) -> None:
        self.folders = [RunFolder.open(i, p) for i, p in enumerate(run_dirs)]
        if not self.folders:
            raise ValueError("give at least one run folder")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds (got {timeout})")
        self.timeout = timeout
        if scratch is not None:
            Path(scratch).mkdir(parents=True, exist_ok=True)
        self.scratch = Path(tempfile.mkdtemp(prefix="audit-scratch-", dir=scratch)).resolve()
        # removed on close(), and also when a view that was never closed is collected or at exit
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.scratch), True)
        config = {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_unsigned_extensions": False,
            "memory_limit": memory_limit or default_memory_limit(),
            "temp_directory": str(self.scratch / "spill"),
            "max_temp_directory_size": max_temp or DEFAULT_MAX_TEMP,
            # DuckDB 2.0.1's window_self_join rewrite copies the Parquet scan and drops a filter on a
            # hive column (decision = 'reject') in the copy: `sum(n) OVER (PARTITION BY task)` over
            # filtered groups then sums every decision (test_window_over_hive_filter_is_correct).
            "disabled_optimizers": "window_self_join",
        }
        if threads:
            config["threads"] = threads
        try:
            self.con = duckdb.connect(":memory:", config=config)
        except duckdb.Error as e:
            self._cleanup()
            raise ValueError(f"cannot open the audit database: {e}") from None
        try:
            # Files: only the run folders. DuckDB checks a file pattern against the allowed
            # directories (a prefix test) and then every file it expands to. A folder is allowed as
            # its glob-escaped pattern (the form the views use); where that differs from the plain
            # path (a `*`, `?` or `[` in it), the plain path must not be allowed as a prefix (as a
            # pattern, `runs/r*/` would list `runs/r2/`): its files are allowed one by one instead.
            # Set before any view exists, so the views themselves run inside the sandbox.
            dirs, paths = set(), set()
            for f in self.folders:
                dirs.add(glob_escape(f.root) + os.sep)
                if glob_escape(f.root) != str(f.root):
                    paths.update(str(p) for p in f.root.rglob("*") if p.is_file())
            self.con.execute("SET allowed_directories = $dirs", {"dirs": sorted(dirs)})
            if paths:
                self.con.execute("SET allowed_paths = $paths", {"paths": sorted(paths)})
            self.con.execute("SET enable_external_access = false")
            self._create_tables()
            self._create_views()
            self.con.execute("SET lock_configuration = true")  # nothing the user runs can change settings
        except BaseException:
            self.close()
            raise

    # -- tables from manifests (small, built once) ---------------------------------------
    def _register(self, name: str, table: pa.Table) -> None:
        self.con.register("_arrow_tmp", table)
        self.con.execute(f"CREATE TABLE {name} AS SELECT * FROM _arrow_tmp")
        self.con.unregister("_arrow_tmp")

    def _create_tables(self) -> None:
        runs, parts, files, config = [], [], [], []
        for f in self.folders:
            m = f.manifest or {}
            th = (m.get("config") or {}).get("thresholds") or {}
            cfg = m.get("config") or {}
            runs.append({
                "run_index": f.index, "run_dir": str(f.root), "run": f.run, "config_hash": m.get("config_hash"),
                "created_at": m.get("created_at"), "has_manifest": f.manifest is not None,
                "has_input_ids": f.input_ids is not None, "input_root": m.get("input_root"),
                "reward_threshold": th.get("reward"), "vqa_threshold": th.get("vqa"),
                "sub_score_threshold": th.get("sub_score"),
                "input_rows": sum((m.get("partitions") or {}).values()) if f.manifest else None,
                "expected_rows": sum((m.get("expected_rows") or {}).values()) if f.manifest else None,
                "duplicate_rows": m.get("duplicate_rows"), "partitions": len(m.get("partitions") or {}),
                "finished_partitions": len(m.get("finished") or {}),
                **{f"{s}_model": (cfg.get(s) or {}).get("model") for s in judges.STAGES},
            })
            finished = m.get("finished") or {}
            for pid, n in (m.get("partitions") or {}).items():
                parts.append({"run_index": f.index, "input_partition": pid, "input_rows": n,
                              "expected_rows": (m.get("expected_rows") or {}).get(pid),
                              "finished": pid in finished})
            listed = {fn for info in finished.values() for fn in info.get("files", [])}
            on_disk = {str(p.relative_to(f.root)) for p in f.shards}
            for rel in sorted(listed | on_disk):
                files.append({"run_index": f.index, "file": rel, "listed": rel in listed, "on_disk": rel in on_disk})
            flat: dict[str, str] = {}
            _flatten("", cfg, flat)
            config += [{"run_index": f.index, "key": k, "value": v} for k, v in sorted(flat.items())]
        self._register("runs", pa.Table.from_pylist(runs, schema=RUNS_SCHEMA))
        self._register("run_partitions", pa.Table.from_pylist(parts, schema=pa.schema([
            ("run_index", pa.int64()), ("input_partition", pa.string()), ("input_rows", pa.int64()),
            ("expected_rows", pa.int64()), ("finished", pa.bool_())])))
        self._register("run_files", pa.Table.from_pylist(files, schema=pa.schema([
            ("run_index", pa.int64()), ("file", pa.string()), ("listed", pa.bool_()), ("on_disk", pa.bool_())])))
        self._register("run_config", pa.Table.from_pylist(config, schema=pa.schema([
            ("run_index", pa.int64()), ("key", pa.string()), ("value", pa.string())])))
        self._register("failure_mode_vocab", pa.table({"mode": list(S.FAILURE_MODES)}))
        self._register("decision_vocab", pa.table({"decision": list(S.DECISIONS)}))

    # -- lazy views over Parquet -------------------------------------------------------------
    def _create_views(self) -> None:
        parts = []
        for f in self.folders:
            # One scan per (task, decision) folder of the run. The files are listed in Python, each an
            # escaped literal: a glob character in a folder name (`runs/r[1]`, `runs/r*`) cannot widen
            # or narrow what is read. `task` and `decision` come from the shard's own two folders as
            # constants, not from DuckDB's hive parsing, which reads every `key=value` segment of the
            # whole path (a run under `/data/task=x/` would get task 'x'); a filter on them still
            # prunes the other folders' scans.
            groups: dict[tuple[str, str], list[Path]] = {}
            for shard in f.shards:
                groups.setdefault(shard_key(shard)[:2], []).append(shard)
            for (task, decision), shards in sorted(groups.items()):
                src = ("read_parquet([" + ", ".join(_path_lit(p) for p in shards) + "], hive_partitioning = false, "
                       "union_by_name = true, filename = true)")
                have = {r[0] for r in self.con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
                drop = ", ".join(c for c in ("filename", "task", "decision") if c in have)
                parts.append(f"SELECT {f.index}::BIGINT AS run_index, {_lit(f.root)} AS run_dir, "
                             f"coalesce({_lit(f.run)}, run_id) AS run, * EXCLUDE ({drop}), "
                             f"{_lit(task)} AS task, {_lit(decision)} AS decision, filename AS shard_file FROM {src}")
        if parts:
            union = "\nUNION ALL BY NAME\n".join(parts)
        else:
            empty = ", ".join(f"NULL::{t} AS {c}" for c, t in CORE_COLUMNS.items())
            union = (f"SELECT NULL::BIGINT AS run_index, NULL AS run_dir, NULL AS run, {empty}, NULL AS shard_file "
                     "WHERE false")
        have = {r[0] for r in self.con.execute(f"DESCRIBE ({union})").fetchall()}
        extra = "".join(f", NULL::{t} AS {c}" for c, t in CORE_COLUMNS.items() if c not in have)
        self.con.execute(f"CREATE VIEW samples_with_images AS SELECT *{extra} FROM ({union})")
        self.con.execute("CREATE VIEW samples AS SELECT * EXCLUDE (image, source_image) FROM samples_with_images")
        self.con.execute("CREATE VIEW scores AS " + scores_view_sql())

        ids = [f"SELECT {f.index}::BIGINT AS run_index, {_lit(f.root)} AS run_dir, {_lit(f.run)} AS run, "
               f"input_partition, input_file, input_row, sample_id FROM read_parquet({_path_lit(f.input_ids)})"
               for f in self.folders if f.input_ids is not None]
        if not ids:
            cols = ", ".join(f"NULL::{t} AS {c}" for c, t in ID_COLUMNS.items())
            ids = [f"SELECT NULL::BIGINT AS run_index, NULL AS run_dir, NULL AS run, {cols} WHERE false"]
        self.con.execute("CREATE VIEW input_ids AS " + "\nUNION ALL\n".join(ids))

    # -- queries ---------------------------------------------------------------------------
    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run trusted SQL (the named audits) with `$name` parameters; returns an Arrow table.

        Raises QueryTimeout when the statements run past the view's timeout."""
        statements = duckdb.extract_statements(sql)
        needed = set().union(*(s.named_parameters for s in statements)) if statements else set()
        params = dict(params or {})
        missing = sorted(needed - set(params))
        if missing:
            raise KeyError(f"missing parameter(s): {', '.join('$' + m for m in missing)} (give --param NAME=VALUE)")
        bound = {k: params[k] for k in needed}
        cur = self.con.cursor()  # cursors share the catalog; a failed query leaves no state behind
        fired = threading.Event()

        def stop() -> None:
            fired.set()
            cur.interrupt()

        timer = threading.Timer(self.timeout, stop) if self.timeout else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            *head, last = statements
            for st in head:  # earlier statements run for their effect; only the last one's rows return
                cur.execute(st.query, {k: bound[k] for k in st.named_parameters} or None).fetchall()
            rel = cur.sql(last.query, params={k: bound[k] for k in last.named_parameters} or None)
            return rel.to_arrow_table() if rel is not None else pa.table({})
        except duckdb.InterruptException:
            if fired.is_set():
                raise QueryTimeout(
                    f"query stopped: it ran longer than the {self.timeout:g} s statement timeout "
                    "(give a larger --timeout, or narrow the query)") from None
            raise
        finally:
            if timer is not None:
                timer.cancel()
            cur.close()

    def sql(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Ad-hoc SQL from a user: refused unless every statement only reads."""
        check_read_only(sql)
        return self.execute(sql, params)

    def resolve_run(self, selector: Any) -> int | None:
        """A run index from an index (0 = first folder given), a run id or a folder path; None stays None."""
        if selector is None:
            return None
        text = str(selector)
        if text.lstrip("-").isdigit():
            i = int(text)
            if 0 <= i < len(self.folders):
                return i
        for f in self.folders:
            if text in (f.run, str(f.root)) or Path(text).resolve() == f.root:
                return f.index
        known = "; ".join(f"{f.index}: {f.run or '?'} ({f.root})" for f in self.folders)
        raise KeyError(f"no run {text!r} among the folders given ({known})")

    def runs(self) -> list[dict]:
        return self.con.sql("SELECT * FROM runs ORDER BY run_index").to_arrow_table().to_pylist()

    def close(self) -> None:
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
        self._cleanup()

    def __enter__(self) -> "AuditView":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
