"""Large fabricated runs in the scoring job's output layout, for benchmarking the audits.

`fabricate_run` writes one output folder with `rows` rows (metadata only, image cells are paths)
and no model: DuckDB draws deterministic scores per row, the judges' columns come from the judge
registry (`curation/judges.py`), each row is decided by the job's own rule
(`curation.decisions.decide_batch`), and shards, input ids, manifest and summary are written
through the layout's owners (`curation.shards.write_shards`, `OutputLayout`, `RunManifest`). Two
folders with different `variant`s share sample ids and differ slightly in scores, models and
thresholds, so `run_comparison` has work to do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from .. import judges
from .. import schema as S
from ..config import ThresholdConfig
from ..decisions import decide_batch
from ..manifest import RunManifest
from ..shards import OutputLayout, write_json_atomic, write_shards

SOURCES = ["pickapic", "laion_aes", "journeydb", "humanedit", "magicbrush", "ultraedit", "synthetic", "inhouse"]
ERRORS = ["unsupported or unrecognised image format (PIL cannot identify it)", "empty prompt (only whitespace)",
          "image: cannot decode image: OSError: image file is truncated", "edit row has no source_image",
          "decompression bomb: Image size exceeds limit", "image file not found: images/missing.png"]
SCORED_AT = "2026-01-01 00:00:00+00"


def u(i: str, salt: int) -> str:
    """A deterministic uniform [0, 1) from the row number (random() is not reproducible across threads)."""
    return f"((hash({i}, {salt}) % 1000003) / 1000003.0)"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def model_id(judge: judges.Judge, variant: int) -> str:
    """The fabricated model id of a judge: reward judges change with the variant, checks do not."""
    name = judge.stage.replace("_", "-")
    return f"unipic/{name}-v{variant}" if judge.role == "reward" else f"unipic/{name}"


def _n_sub_scores() -> int:
    return max((len(j.sub_score_modes) for j in judges.JUDGES), default=0)


def _judge_columns(variant: int) -> list[str]:
    """SQL select items for every judge's columns, from the registry: a reward judge's score is `r`,
    a check's is `v`, the k-th sub-score is `s<k>`; null on the tasks a judge does not score."""
    items = []
    for j in judges.JUDGES:
        on = f"task IN ({', '.join(_quote(t) for t in j.tasks)})"
        score = "r" if j.role == "reward" else "v"
        items.append(f"CASE WHEN {on} AND NOT is_error THEN {score} END AS {j.column('score')}")
        for k, sub in enumerate(j.sub_score_modes):
            items.append(f"CASE WHEN {on} AND NOT is_error THEN s{k} END AS {j.column(sub)}")
        items.append(f"CASE WHEN {on} THEN {_quote(model_id(j, variant))} END AS {j.column('model_id')}")
        items.append(f"CASE WHEN {on} THEN 'main' END AS {j.column('model_revision')}")
    return items


def fabricate_run(root: Path, rows: int, rows_per_partition: int, variant: int, reward_threshold: float,
                  vqa_threshold: float = 0.5) -> None:
    """One run folder with `rows` output rows (0.5 % of ids duplicated in the input)."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    layout = OutputLayout(root)
    con = duckdb.connect(":memory:")
    run_id = f"20260101T000000Z-bench{variant}"
    config_hash = f"benchconfig{variant:05d}"
    noise = 0.03 * variant
    err_list = "[" + ", ".join(_quote(e) for e in ERRORS) + "]"
    src_list = "[" + ", ".join(_quote(s) for s in SOURCES) + "]"
    subs = ", ".join(f"CASE WHEN is_error THEN NULL ELSE least(1.0, r + 0.2 * {u('i', 9 + k)}) END AS s{k}"
                     for k in range(_n_sub_scores()))
    con.execute(f"""
    CREATE TABLE scored AS
    WITH base AS (
      SELECT i,
             'sample-' || lpad(i::VARCHAR, 9, '0') AS sample_id,
             printf('%05d-bench', i // {rows_per_partition}) AS input_partition,
             CASE WHEN {u('i', 1)} < 0.7 THEN 't2i' ELSE 'edit' END AS task,
             {src_list}[1 + CAST(floor({u('i', 2)} * {len(SOURCES)}) AS INT)] AS source,
             {u('i', 3)} < 0.01 AS is_error,
             {err_list}[1 + CAST(floor({u('i', 4)} * {len(ERRORS)}) AS INT)] AS err,
             {u('i', 5)} < 0.005 AS dup,
             least(1.0, greatest(0.0, pow({u('i', 6)}, 0.25) + {noise} * ({u('i', 7 + variant)} - 0.5))) AS r,
             {u('i', 8)} AS a
      FROM range({rows}) t(i))
    SELECT *, CASE WHEN is_error THEN NULL ELSE least(1.0, 0.55 * r + 0.45 * pow(a, 0.5)) END AS v{', ' + subs if subs else ''}
    FROM base
    """)
    vqa = judges.get("vqa")
    con.execute(f"""
    CREATE TABLE shards AS
    SELECT sample_id, task, task AS {S.TASK_HIVE},
           CASE task WHEN 't2i' THEN 'a photo of object ' || (i % 5000) ELSE 'make the sky ' || (i % 300) END AS prompt,
           {{'bytes': NULL::BLOB, 'path': 'images/' || i || '.png'}} AS image,
           CASE WHEN task = 'edit' THEN {{'bytes': NULL::BLOB, 'path': 'images/src-' || i || '.png'}} END AS source_image,
           source, CASE WHEN task = 'edit' THEN '{{"target_description": "a picture"}}' END AS meta,
           CASE task WHEN 't2i' THEN 'a photo of object ' || (i % 5000) ELSE 'a picture' END AS vqa_text,
           512::BIGINT AS image_width, 512::BIGINT AS image_height,
           CASE WHEN is_error THEN err END AS error, []::VARCHAR[] AS notes, []::VARCHAR[] AS failure_modes,
           CASE WHEN dup THEN 2 ELSE 1 END::BIGINT AS duplicate_count,
           'candidates/part-' || lpad((i // 100000)::VARCHAR, 4, '0') || '.parquet' AS input_file,
           (i % 100000)::BIGINT AS input_row, input_partition,
           {', '.join(_judge_columns(variant))},
           'Does this figure show "{{}}"? Please answer yes or no.' AS {vqa.column('template')},
           'Yes' AS {vqa.column('answer')},
           '{run_id}' AS run_id, '{config_hash}' AS config_hash, TIMESTAMPTZ '{SCORED_AT}' AS scored_at
    FROM scored
    """)
    th = ThresholdConfig(reward=reward_threshold, vqa=vqa_threshold)
    decided = [S.TASK_HIVE, S.ERROR, S.FAILURE_MODES_COL,
               *(j.column("score") for j in judges.JUDGES), *judges.sub_score_modes()]
    finished: dict[str, dict] = {}
    pids = [p for (p,) in con.execute("SELECT DISTINCT input_partition FROM shards ORDER BY 1").fetchall()]
    for pid in pids:
        table = con.execute("SELECT * FROM shards WHERE input_partition = ? ORDER BY input_file, input_row",
                            [pid]).to_arrow_table()
        rule = decide_batch(table.select(decided), th, list(judges.STAGES), run_id, config_hash)
        for name in (S.REWARD_SCORE, S.DECISION, S.FAILURE_MODES_COL):
            idx = table.schema.get_field_index(name)
            table = (table.set_column(idx, name, rule.column(name)) if idx >= 0
                     else table.append_column(name, rule.column(name)))
        files = write_shards(root, table, pid)
        finished[pid] = {"rows": table.num_rows, "files": [str(f.relative_to(root)) for f in files]}
    layout.input_ids.parent.mkdir(parents=True, exist_ok=True)
    ids = ", ".join(S.ID_SCHEMA.names)
    con.execute(f"""COPY (SELECT {ids} FROM shards
                          UNION ALL
                          SELECT input_partition, input_file, input_row + 1000000, sample_id FROM shards
                          WHERE duplicate_count = 2)
                  TO {_quote(str(layout.input_ids))} (FORMAT parquet, COMPRESSION zstd)""")
    parts = dict(con.execute("SELECT input_partition, count(*) FROM shards GROUP BY ALL").fetchall())
    dups = dict(con.execute("SELECT input_partition, count(*) FILTER (WHERE duplicate_count = 2) FROM shards "
                            "GROUP BY ALL").fetchall())
    config = {"thresholds": {"reward": th.reward, "vqa": th.vqa, "sub_score": th.sub_score},
              **{j.stage: {"model": model_id(j, variant)} for j in judges.JUDGES}}
    RunManifest(run_id=run_id, config_hash=config_hash, input_fingerprint="bench", created_at="2026-01-01",
                config=config, input_root="candidates", partitions={p: n + dups[p] for p, n in parts.items()},
                expected_rows=parts, finished=finished, ids_indexed=True,
                duplicate_rows=sum(dups.values())).save(layout)
    write_json_atomic(layout.summary, {"run_id": run_id, "rows": rows})
    con.close()
