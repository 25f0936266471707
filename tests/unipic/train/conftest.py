"""Fixtures of the training tests: shards in the scoring job's layout, understanding rows, models.

`job_shards` imitates the scoring job's output without running judges: synthetic candidates
are decided by their planted truth (clean -> keep with reward 0.95, faulty -> reject with
reward 0.4, broken files -> error), written as `task=<t>/decision=<d>/part-00000.parquet`
beside a `_manifest.json` and `summary.json` the reader must ignore.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def fake_score(candidates_dir: Path, out: Path) -> Path:
    """Decide candidate rows by their planted truth and write them in the job's shard layout."""
    import pyarrow.dataset as ds

    table = ds.dataset(sorted(str(p) for p in candidates_dir.glob("candidates-*.parquet"))).to_table()
    groups: dict[tuple[str, str], list[dict]] = {}
    for i, row in enumerate(table.to_pylist()):
        meta = json.loads(row["meta"])
        if meta.get("fault") == "broken_file":
            decision, reward, modes = "error", None, []
        elif meta["clean"]:
            decision, reward, modes = "keep", 0.95 - 0.001 * (i % 40), []
        else:
            decision, reward, modes = "reject", 0.4, [meta["planted_mode"]]
        row.update(reward_score=reward, vqa_score=None if reward is None else reward,
                   decision=decision, failure_modes=modes)
        groups.setdefault((row["task"], decision), []).append(row)
    for (task, decision), rows in groups.items():
        folder = out / f"task={task}" / f"decision={decision}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist(rows)
        for name in ("reward_score", "vqa_score"):  # typed as the job types them, even when all null
            table = table.set_column(table.schema.get_field_index(name), name, table.column(name).cast(pa.float64()))
        pq.write_table(table, folder / "part-00000.parquet")
    (out / "_manifest.json").write_text("{}")
    (out / "summary.json").write_text("{}")
    return out


@pytest.fixture(scope="session")
def candidates_dir(tmp_path_factory) -> Path:
    from synthetic import write_candidates

    folder = tmp_path_factory.mktemp("candidates")
    write_candidates(folder, n=96, seed=11, size=48, shards=2)
    return folder


@pytest.fixture(scope="session")
def job_shards(tmp_path_factory, candidates_dir) -> Path:
    return fake_score(candidates_dir, tmp_path_factory.mktemp("shards"))


@pytest.fixture(scope="session")
def und_parquet(tmp_path_factory) -> Path:
    from synthetic import write_understanding

    folder = tmp_path_factory.mktemp("und")
    write_understanding(folder, n=24, seed=3, size=48)
    return folder


@pytest.fixture(scope="session")
def world_shards(tmp_path_factory) -> Path:
    """Single-object scenes (6 colours x 3 shapes, centre, white), 4 copies each, as keep shards."""
    from unipic.evaluate import single_object_scenes
    from unipic.train.world import write_t2i_shards

    return write_t2i_shards(tmp_path_factory.mktemp("world"), single_object_scenes(), copies=4)


@pytest.fixture(scope="session")
def world_folder(tmp_path_factory) -> Path:
    """A fresh world model (fitted patch codec, world tokenizer) saved in our folder format."""
    from unipic.checkpoint import save_pretrained
    from unipic.presets import build_preset

    return save_pretrained(build_preset("world", seed=0), tmp_path_factory.mktemp("world_model") / "init")


@pytest.fixture(scope="session")
def tiny_train_folder(tmp_path_factory) -> Path:
    """A fresh tiny model (KL-16 codec, SigLIP) at training init, saved."""
    from unipic.checkpoint import save_pretrained
    from unipic.presets import build_preset

    return save_pretrained(build_preset("tiny", seed=0), tmp_path_factory.mktemp("tiny_model") / "init")


def rows_of(folder: str | Path) -> list[dict]:
    from unipic.train.data import open_dataset

    return open_dataset([str(folder)]).to_table().to_pylist()
