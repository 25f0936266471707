from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.inputs import InputError, Partition, plan_inputs


def _table(n, start=0):
    return pa.table({"sample_id": [f"s{i}" for i in range(start, start + n)], "prompt": ["p"] * n})


def test_folders_globs_hive_and_deterministic_partitions(tmp_path):
    (tmp_path / "task=t2i").mkdir()
    (tmp_path / "task=edit").mkdir()
    pq.write_table(_table(25), tmp_path / "task=t2i" / "a.parquet", row_group_size=5)
    pq.write_table(_table(3, 100), tmp_path / "task=edit" / "b.parquet")
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps({"sample_id": f"j{i}"}) for i in range(4)) + "\n\n")
    plan = plan_inputs([str(tmp_path)], rows_per_partition=10)
    assert plan.num_rows == 32
    assert {f.rel: f.hive for f in plan.files}["task=t2i/a.parquet"] == (("task", "t2i"),)
    assert [p.num_rows for p in plan.partitions] == [4, 3, 10, 10, 5]  # split at row groups, formats not mixed
    again = plan_inputs([str(tmp_path)], rows_per_partition=10)
    assert [p.pid for p in again.partitions] == [p.pid for p in plan.partitions]
    assert Partition.from_json(plan.partitions[1].to_json()) == plan.partitions[1]
    globbed = plan_inputs([str(tmp_path / "task=*" / "*.parquet")], rows_per_partition=10)
    assert globbed.num_rows == 28
    assert plan.fingerprint() == again.fingerprint()
    pq.write_table(_table(26), tmp_path / "task=t2i" / "a.parquet", row_group_size=5)
    assert plan_inputs([str(tmp_path)], rows_per_partition=10).fingerprint() != plan.fingerprint()


def test_small_files_are_packed(tmp_path):
    for i in range(6):
        pq.write_table(_table(2, 10 * i), tmp_path / f"f{i}.parquet")
    plan = plan_inputs([str(tmp_path)], rows_per_partition=5)
    assert [p.num_rows for p in plan.partitions] == [4, 4, 4]


def test_hf_save_to_disk_folder(tmp_path):
    from datasets import Dataset

    Dataset.from_dict({"sample_id": ["a", "b", "c"], "prompt": ["x", "y", "z"]}).save_to_disk(tmp_path / "ds")
    plan = plan_inputs([str(tmp_path / "ds")])
    assert plan.num_rows == 3 and plan.files[0].format == "hf_disk"


def test_missing_inputs_fail_fast(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        plan_inputs([str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no input files"):
        plan_inputs([str(tmp_path / "empty")])


def test_planned_extra_columns_are_unified_across_files(tmp_path):
    """One schema for every shard: the extra input columns of all files, types unified."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.config import ColumnMap
    from curation.extras import planned_extra_schema
    from curation.shards import restore_extra

    (tmp_path / "lang=en").mkdir()
    pq.write_table(pa.table({"prompt": ["a"], "image": [b"x"], "score_x": [1], "empty": pa.array([None], pa.null())}),
                   tmp_path / "lang=en" / "a.parquet")
    (tmp_path / "b.jsonl").write_text(json.dumps({"prompt": "b", "image": "i.png", "score_x": 2.5, "tag": "t",
                                                  "decision": "mine"}) + "\n")
    plan = plan_inputs([str(tmp_path)])
    schema = planned_extra_schema(plan.files, ColumnMap())
    assert schema.field("score_x").type == pa.float64()  # int64 and double -> double
    assert schema.field("tag").type == pa.string() and schema.field("lang").type == pa.string()
    assert schema.field("empty").type == pa.string()  # null everywhere: strings
    assert "input_decision" in schema.names and "decision" not in schema.names  # reserved names are renamed
    # a shard whose rows lack most of them still gets every planned column, typed as planned
    import pickle

    table = pa.table({"x": [1, 2], "_extra": [pickle.dumps({"score_x": 3}), None]})
    out = restore_extra(table, schema)
    assert out.column_names[:1] == ["x"] and set(schema.names) <= set(out.column_names)
    assert out.schema.field("score_x").type == pa.float64() and out.column("score_x").to_pylist() == [3.0, None]


def test_restore_extra_never_drops_or_overwrites_a_column():
    """An extra input column whose name a job column already has is kept under another name."""
    import pickle

    from curation.shards import restore_extra

    table = pa.table({"vqa_score": [0.5, 0.7], "_extra": [pickle.dumps({"vqa_score": "mine", "odd": 2**70}),
                                                          b"not a pickle"]})
    out = restore_extra(table)
    assert out.column("vqa_score").to_pylist() == [0.5, 0.7]
    assert out.column("input_vqa_score").to_pylist() == ["mine", None]
    assert out.column("odd").to_pylist() == [str(2**70), None]  # too big for Arrow ints: kept as text
