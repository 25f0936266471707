"""The embedded default: synthetic candidates, the shipped small judges, a local output.

`python pipelines/score.py` with no --input scores a fresh candidate set from the synthetic
world (a seed the judges were not trained on), then measures the run against the world's
known truth. Data and (if the shipped judges are missing) untrained stand-in judges are
built under `runs/demo/` the first time.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .config import ScoreJobConfig

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO_ROOT / "runs" / "demo"
SHIPPED = REPO_ROOT / "reward_models" / "shipped"
DEMO_SEED = 20261128
"""Candidate seed of the demo; the shipped judges were trained on other seeds (their cards say which)."""
DEMO_ROWS = 240


def demo_candidates(folder: Path = DEMO_DIR / "candidates", n: int = DEMO_ROWS, seed: int = DEMO_SEED) -> Path:
    """Write the demo candidate set (t2i and edit rows, planted faults, a few broken files) once."""
    import json
    import shutil

    params = {"n": n, "seed": seed, "size": 64}
    stamp = folder / "world.json"
    if (folder / "truth.parquet").exists() and stamp.exists() and json.loads(stamp.read_text()) == params:
        return folder
    from synthetic import write_candidates

    if folder.exists():  # another seed or size: never mix two candidate sets
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    write_candidates(folder, n=n, seed=seed, size=64, shards=2)
    stamp.write_text(json.dumps(params))
    return folder


def demo_judges(folder: Path = DEMO_DIR / "models") -> dict[str, str]:
    """Paths of the judges: the shipped ones, or untrained stand-ins built once (with a warning)."""
    judges = {}
    for name in ("img_reward", "edit_reward", "vqascore"):
        shipped = SHIPPED / name
        if (shipped / "config.json").exists():
            judges[name] = str(shipped)
            continue
        target = folder / name
        if not (target / "config.json").exists():
            log.warning("no shipped %s judge at %s: building an untrained stand-in (its scores mean nothing)",
                        name, shipped)
            _build_stand_in(name, target)
        judges[name] = str(target)
    return judges


def _build_stand_in(name: str, target: Path) -> None:
    if name == "img_reward":
        from reward_models.img_reward import build_tiny_img_reward

        build_tiny_img_reward(target)
    elif name == "edit_reward":
        from reward_models.edit_reward import build_tiny_edit_reward

        build_tiny_edit_reward(target)
    else:
        from reward_models.tiny import build_tiny_qwen25vl

        build_tiny_qwen25vl(target)


def apply_demo_defaults(cfg: ScoreJobConfig, candidates: Path | None = None,
                        output: Path | None = None) -> ScoreJobConfig:
    """Fill what the user did not give: demo input, output, judges, a small local Ray."""
    # The candidate shards only: truth.parquet beside them is the answer key, not input.
    cfg.input.paths = [str((candidates or demo_candidates()) / "candidates-*.parquet")]
    if not cfg.output.path:
        cfg.output.path = str(output or DEMO_DIR / "shards")
    judges = demo_judges()
    if not cfg.img_reward.model:
        cfg.img_reward.model = judges["img_reward"]
    if not cfg.edit_reward.model:
        cfg.edit_reward.model = judges["edit_reward"]
    if not cfg.vqa.model and cfg.vqa.backend == "native":
        cfg.vqa.model = judges["vqascore"]
    # The shipped small judges were trained on 64 px world images as they are: read them at that
    # budget (VQAScore's rows then say `pixel-budget:4096`, not t2v-metrics' own preprocessing).
    for stage in (cfg.img_reward, cfg.edit_reward, cfg.vqa):
        stage.max_pixels = min(stage.max_pixels or 64 * 64, 64 * 64)
    cfg.input.rows_per_partition = min(cfg.input.rows_per_partition, 60)
    return cfg
