"""Adapters from HumanEdit, UltraEdit and SuperEdit-40K into `EditExample`s (good edits only).

Column names are checked against each file before reading; a file in another layout fails
with a message naming the missing and present columns. Bad rows (undecodable image, empty
instruction) are skipped with a count in a `SkipLog`.
"""

from __future__ import annotations

import itertools
import random
from typing import Iterator

from reward_models.data.files import DataRepo, SplitNotFound, iter_parquet_rows, open_repo, parquet_columns
from reward_models.data.images import UndecodableImage, decode_image_cell
from reward_models.data.schema import EditExample, SkipLog, require_columns

HUMANEDIT = {"source": "INPUT_IMG", "instruction": "EDITING_INSTRUCTION", "edited": "OUTPUT_IMG"}
HUMANEDIT_META = ("IMAGE_ID", "EDITING_TYPE", "OUTPUT_DESCRIPTION", "INPUT_CAPTION_BY_LLAMA", "OUTPUT_CAPTION_BY_LLAMA")
ULTRAEDIT = {"source": "source_image", "instruction": "edit_prompt", "edited": "edited_image"}
ULTRAEDIT_META = ("clip_sim_source", "clip_sim_target", "clip_sim_dir", "clip_sim_image", "dinov2_sim", "ssim",
                  "source_caption", "target_caption", "idx")
SUPEREDIT = {"source": "input_image", "instruction": "edit_prompts", "edited": "edited_image"}
SUPEREDIT_NEG = "neg_prompts"

LAYOUTS = {
    "humanedit": ("HumanEdit", HUMANEDIT, HUMANEDIT_META),
    "ultraedit": ("UltraEdit", ULTRAEDIT, ULTRAEDIT_META),
    "superedit": ("SuperEdit-40K", SUPEREDIT, (SUPEREDIT_NEG,)),
}
HUB_IDS = {"humanedit": "BryanW/HumanEdit", "ultraedit": "BleachNick/UltraEdit_500k", "superedit": "limingcv/SuperEdit-40K"}
TRAIN_SPLITS = {"ultraedit": "FreeForm*"}
"""What `train` means where a dataset has no split of that name: UltraEdit_500k's one split is
`FreeForm`, UltraEdit's are `FreeForm_0`, `FreeForm_1`, ... (its region-based splits are not read)."""


def resolve_split(source: str, repo: DataRepo, split: str) -> list[str]:
    """The parquet files of `split` (whole split names); `train` on a dataset without a train split
    means its training split(s) (`TRAIN_SPLITS`)."""
    try:
        return repo.find((".parquet",), split)
    except SplitNotFound:
        if split != "train" or source not in TRAIN_SPLITS:
            raise
        return repo.find((".parquet",), TRAIN_SPLITS[source])


def _text(cell, rng: random.Random) -> str:
    """A prompt cell may hold one string or a list of paraphrases (SuperEdit): pick one, seeded."""
    if isinstance(cell, (list, tuple)):
        cell = [c for c in cell if isinstance(c, str) and c.strip()]
        return rng.choice(cell).strip() if cell else ""
    return cell.strip() if isinstance(cell, str) else ""


def _texts(cell) -> list[str]:
    if isinstance(cell, (list, tuple)):
        return [c.strip() for c in cell if isinstance(c, str) and c.strip()]
    return [cell.strip()] if isinstance(cell, str) and cell.strip() else []


def read_edits(source: str, path_or_id: "str | DataRepo | None", split: str = "train", seed: int = 0, limit: int | None = None,
               skips: SkipLog | None = None, min_similarity: dict[str, float] | None = None) -> Iterator[EditExample]:
    """Good edits from `source` (humanedit, ultraedit, superedit): local parquet file(s)/folder or a hub id.

    The shards of `split` are read one at a time and fetched only when reached (a capped read
    downloads only the shards it uses). UltraEdit has no `train` split: `train` reads its
    `FreeForm` / `FreeForm_N` splits.

    `min_similarity` (UltraEdit) keeps rows whose similarity columns reach the given values,
    e.g. {"clip_sim_dir": 0.2}: UltraEdit is machine-made and its metrics are its only quality signal.
    """
    if source not in LAYOUTS:
        raise ValueError(f"unknown edit source {source!r}: use one of {sorted(LAYOUTS)}")
    name, cols, meta_cols = LAYOUTS[source]
    repo = open_repo(path_or_id or HUB_IDS[source])
    files = resolve_split(source, repo, split)
    first = repo.local(files[0])
    require_columns(parquet_columns([first]), list(cols.values()), name, str(first))
    base = repo.base_dir
    skips = skips if skips is not None else SkipLog()
    rng = random.Random(seed)
    wanted = [*cols.values(), *meta_cols]

    def rows() -> Iterator[EditExample]:
        for row in (r for k, rel in enumerate(files)
                    for r in iter_parquet_rows([first if k == 0 else repo.local(rel)], wanted, batch_rows=64)):
            instruction = _text(row.get(cols["instruction"]), rng)
            if not instruction:
                skips.skip(source, "missing_instruction")
                continue
            if min_similarity and any(
                row.get(k) is None or row[k] < v for k, v in min_similarity.items()
            ):
                skips.skip(source, "below_similarity")
                continue
            try:
                src = decode_image_cell(row[cols["source"]], base)
                out = decode_image_cell(row[cols["edited"]], base)
            except UndecodableImage:
                skips.skip(source, "undecodable_image")
                continue
            meta = {k: row[k] for k in meta_cols if k in row and k != SUPEREDIT_NEG and row[k] is not None}
            negs = _texts(row.get(SUPEREDIT_NEG)) if source == "superedit" else []
            yield EditExample(src, instruction, out, source, negs, meta)

    return rows() if limit is None else itertools.islice(rows(), limit)
