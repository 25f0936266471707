"""Two small real scoring-job runs on the same inputs, shared by the audit tests.

Run A uses the default thresholds (reward 0.9, VQAScore 0.5), run B looser ones (0.3 / 0.3), so
run comparison has decisions to compare. Built once per test session (both audit test modules
ask for them) with the real job on the session's Ray and tiny real judges: the reward builders
when they exist, else the spread VQAScore judge standing in as reward model (`scorer=vqascore`).
Also independent readers (pyarrow, no DuckDB) for the tests' expected values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from curation.shards import OutputLayout, shard_key

from .conftest import job_config
from .inputs_factory import write_mixed_input

_CACHE: dict[str, dict] = {}


def _judges(root: Path, spread_vqa: str) -> dict[str, str]:
    from reward_models.edit_reward import build_tiny_edit_reward
    from reward_models.img_reward import build_tiny_img_reward

    return {"img_reward": str(build_tiny_img_reward(root / "img_reward")),
            "edit_reward": str(build_tiny_edit_reward(root / "edit_reward")), "vqa": spread_vqa}


def real_runs(tmp_path_factory, spread_vqa: str) -> dict:
    """{"a": Path, "b": Path, "input": dict}: two finished runs of the real job."""
    key = str(tmp_path_factory.getbasetemp())
    if key not in _CACHE:
        from curation.job import run_score_job

        root = tmp_path_factory.mktemp("audit_runs")
        info = write_mixed_input(root / "input", n_good=16)
        judges = _judges(root / "judges", spread_vqa)
        run_score_job(job_config([root / "input"], root / "run_a", judges))
        run_score_job(job_config([root / "input"], root / "run_b", judges, thresholds__reward=0.3, thresholds__vqa=0.3))
        _CACHE[key] = {"a": root / "run_a", "b": root / "run_b", "input": info}
    return _CACHE[key]


def shard_files(run_dir: Path) -> list[Path]:
    return OutputLayout(Path(run_dir)).all_shards()


def load_rows(run_dir: Path) -> pd.DataFrame:
    """Every output row without image bytes, task/decision from the hive folders (pyarrow only)."""
    frames = []
    for f in shard_files(run_dir):
        names = [n for n in pq.read_schema(f).names if n not in ("image", "source_image")]
        df = pq.read_table(f, columns=names).to_pandas()
        df["task"], df["decision"], _ = shard_key(f)
        df["shard_file"] = str(f)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def load_input_ids(run_dir: Path) -> pd.DataFrame:
    return pq.read_table(OutputLayout(Path(run_dir)).find_input_ids()).to_pandas()


def manifest(run_dir: Path) -> dict:
    return json.loads(OutputLayout(Path(run_dir)).find_manifest().read_text())
