"""Streaming data: filters, rank sharding, the shuffle window, buckets, resume, caption dropout."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from unipic.train.data import BatchStream, ResolutionBuckets, SourceConfig, dropped, open_dataset, parse_buckets

from .conftest import rows_of


def _ids(batch):
    return [r["sample_id"] for r in batch.rows]


def _truth(candidates_dir):
    return {r["sample_id"]: r for r in pq.read_table(candidates_dir / "truth.parquet").to_pylist()}


def _epoch_ids(stream: BatchStream, batches: int) -> list[str]:
    return [i for _ in range(batches) for i in _ids(stream.next())]


def test_keep_filter_reads_exactly_the_kept_rows(job_shards, candidates_dir):
    truth = _truth(candidates_dir)
    clean_t2i = {i for i, t in truth.items() if t["task"] == "t2i" and t["clean"]}
    stream = BatchStream(SourceConfig([str(job_shards)], "t2i"), global_batch=1, seed=0)
    assert stream.window_rows == 1024
    seen = _epoch_ids(stream, len(clean_t2i))
    assert set(seen) == clean_t2i and len(seen) == len(clean_t2i)
    assert stream.state_dict()["epoch"] == 0
    stream.next()
    assert stream.state_dict()["epoch"] == 1  # rolled over


def test_thresholds_and_all_rows(job_shards, candidates_dir):
    truth = _truth(candidates_dir)
    rows = [r for r in rows_of(job_shards) if r["task"] == "edit"]
    strict = {r["sample_id"] for r in rows if r["decision"] == "keep" and r["reward_score"] >= 0.93}
    stream = BatchStream(SourceConfig([str(job_shards)], "edit", min_reward=0.93), 1, seed=0)
    assert set(_epoch_ids(stream, len(strict))) == strict
    # decision=None reads every decision; broken files are skipped as unreadable
    readable = {i for i, t in truth.items() if t["task"] == "edit" and t["fault"] != "broken_file"}
    stream = BatchStream(SourceConfig([str(job_shards)], "edit", decision=None), 1, seed=0)
    assert set(_epoch_ids(stream, len(readable))) == readable
    assert stream.skipped_unreadable >= 1
    # raw candidates (no decision column) need decision=None; a glob leaves truth.parquet out
    with pytest.raises(ValueError, match="decision"):
        BatchStream(SourceConfig([str(candidates_dir / "candidates-*.parquet")], "t2i"), 1)
    raw = BatchStream(SourceConfig([str(candidates_dir / "candidates-*.parquet")], "t2i", decision=None), 1)
    t2i_readable = {i for i, t in truth.items() if t["task"] == "t2i" and t["fault"] != "broken_file"}
    assert set(_epoch_ids(raw, len(t2i_readable))) == t2i_readable


def test_workers_split_each_global_batch(job_shards):
    src = SourceConfig([str(job_shards)], "t2i")
    one = BatchStream(src, 4, rank=0, world_size=1, seed=3)
    two = [BatchStream(src, 4, rank=r, world_size=2, seed=3) for r in range(2)]
    for _ in range(5):
        full = one.next()
        halves = [s.next() for s in two]
        assert halves[0].positions == [0, 2] and halves[1].positions == [1, 3]
        merged = [None] * 4
        for h in halves:
            for p, r in zip(h.positions, h.rows):
                merged[p] = r["sample_id"]
        assert merged == _ids(full)
    with pytest.raises(ValueError, match="divisible"):
        BatchStream(src, 3, rank=0, world_size=2)


def test_order_is_seeded_and_changes_per_epoch(job_shards):
    src = SourceConfig([str(job_shards)], "t2i")
    a, b, c = (BatchStream(src, 2, seed=s) for s in (1, 1, 2))
    n = sum(1 for r in rows_of(job_shards) if r["task"] == "t2i" and r["decision"] == "keep") // 2
    ea, eb, ec = _epoch_ids(a, n), _epoch_ids(b, n), _epoch_ids(c, n)
    assert ea == eb and ea != ec and sorted(ea) == sorted(ec)
    assert _epoch_ids(a, n) != ea  # epoch 1 is shuffled differently


def test_resume_from_a_saved_position(job_shards):
    src = SourceConfig([str(job_shards)], "edit")
    straight = BatchStream(src, 2, seed=5, shuffle_buffer=6)  # several windows per epoch
    assert straight.window_rows == 6
    expected = _epoch_ids(straight, 14)
    first = BatchStream(src, 2, seed=5, shuffle_buffer=6)
    got = _epoch_ids(first, 5)
    state = json.loads(json.dumps(first.state_dict()))
    resumed = BatchStream(src, 2, seed=5, shuffle_buffer=6)
    resumed.load_state_dict(state)
    assert got + _epoch_ids(resumed, 9) == expected


def test_shuffle_window_is_bounded(job_shards):
    src = SourceConfig([str(job_shards)], "t2i")
    stream = BatchStream(src, 4, seed=0, shuffle_buffer=8)
    ids = _epoch_ids(stream, 4)
    stream2 = BatchStream(src, 4, seed=0, shuffle_buffer=8)
    window = stream2._rows_from(0, 0, 8)  # the first window's rows, in file order
    assert set(ids[:8]) == {r["sample_id"] for r in window}  # the first 8 rows out come from it


def _png(w: int, h: int, colour) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def test_resolution_buckets(tmp_path):
    sizes = [(64, 64), (80, 60), (60, 80)] * 6
    rows = [{"sample_id": f"s{i}", "task": "t2i", "prompt": f"p{i}", "image": _png(w, h, (i * 10, 0, 0))}
            for i, (w, h) in enumerate(sizes)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
    buckets = ResolutionBuckets(64, 8, parse_buckets("1:1,4:3,3:4"))
    assert buckets.shapes == [(64, 64), (56, 72), (72, 56)]
    stream = BatchStream(SourceConfig([str(tmp_path / "rows.parquet")], "t2i", decision=None), 3, seed=0,
                         buckets=buckets)
    by_id = {r["sample_id"]: r for r in rows}
    seen = set()
    for _ in range(6):
        b = stream.next()
        shapes = {Image.open(io.BytesIO(by_id[i]["image"]["bytes"])).size for i in _ids(b)}
        assert len(shapes) == 1
        w, h = shapes.pop()
        assert b.bucket == buckets.shapes[buckets.assign(w, h)]
        seen |= set(_ids(b))
    assert len(seen) == 18


def test_caption_dropout_rate_and_determinism():
    rows = [{"_index": i} for i in range(4000)]
    flags = [dropped(0, r, 0.1) for r in rows]
    assert 0.085 < np.mean(flags) < 0.115
    assert flags == [dropped(0, r, 0.1) for r in rows] and flags != [dropped(1, r, 0.1) for r in rows]
    assert not any(dropped(0, r, 0.0) for r in rows)


def test_understanding_rows(und_parquet):
    stream = BatchStream(SourceConfig([str(und_parquet)], "und", decision=None), 4, seed=0)
    b = stream.next()
    assert all(r["question"] and r["answer"] and r["image"]["bytes"] for r in b.rows)


def test_reader_ignores_job_side_files(job_shards):
    files = [f.path for f in open_dataset([str(job_shards)]).get_fragments()]
    assert files and all(f.endswith(".parquet") for f in files)
    assert not (job_shards / "_manifest.json").read_text().startswith("PAR1")
