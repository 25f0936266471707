"""Training rows around a describe-then-answer judge's own descriptions: the starting model's
descriptions of the training images, describe-turn replay, and reading copies (see each function)."""

from __future__ import annotations

from reward_models.judging.describe import DescriptionCache, Describer


def starting_descriptions(model, processor, layout, batch_size: int = 32) -> DescriptionCache | None:
    """A cache that describes with the starting model (before any judge training), for describe
    layouts; None for direct ones."""
    if not layout.describes:
        return None
    model.eval()
    return DescriptionCache(Describer(model, processor, layout.describe_question, layout.describe_max_new_tokens,
                                      batch_size))


def with_replay(rows: list[dict], cache: DescriptionCache | None, args, summary: dict, seed: int) -> list[dict]:
    """`rows` plus describe-turn replay rows for their images (when `args.describe_replay`), shuffled."""
    import random

    if cache is None or not getattr(args, "describe_replay", False):
        return rows
    # At most one replay row per three judge rows: enough to keep describing, not so many that
    # describing crowds out judging.
    replay = cache.replay_rows([im for r in rows for im in r["images"]])[: max(1, len(rows) // 3)]
    summary["describe_replay_rows"] = len(replay)
    out = rows + replay
    random.Random(seed).shuffle(out)
    return out


BLANK_GREY = (128, 128, 128)
"""The colour of a blanked picture (a reading copy's images)."""


def with_reading_copies(rows: list[dict], share: float, seed: int, summary: dict | None = None) -> list[dict]:
    """`rows` plus, for a `share` of them (chosen with `seed`), a copy whose pictures are blank grey
    images of the same sizes (see `DescribeArgs.reading_copies`), shuffled in.

    Why: in a describe-then-answer row the `<think>` description is predictable from the pixels, so
    its tokens (which SFT learns) never need the caption; a model that must also predict them with
    the picture blanked learns to look them up in the caption or instruction, which is the lookup
    the answer's comparison is built from (a text-only probe: answer-only training stayed at chance
    on wrong colour/shape/position, description tokens learned from the caption lifted it).
    """
    import random

    from PIL import Image

    if share <= 0 or not rows:
        return rows
    rng = random.Random(seed)
    picked = [r for r in rows if rng.random() < share]
    copies = [{**r, "images": [Image.new("RGB", im.size, BLANK_GREY) for im in r["images"]]} for r in picked]
    if summary is not None:
        summary["reading_copies"] = len(copies)
    out = rows + copies
    rng.shuffle(out)
    return out
