"""EditReward's constructed negatives: each labelled with the failure it stands for."""

import numpy as np

from reward_models.data.schema import EditExample
from reward_models.edit_reward.negatives import DEGRADATIONS, KINDS, LABELS, PRIMARY, build_judgements, degrade


def _examples(n=6, negs=True):
    from synthetic import edit_triplets

    return [EditExample(t.source, t.instruction, t.edited, "synthetic", ["make it a dog"] if negs else [])
            for t in edit_triplets(n, 0)]


def test_every_kind_is_built_and_labelled():
    js = build_judgements(_examples(), seed=0)
    kinds = {j.kind for j in js}
    assert kinds == {"positive", *KINDS}
    for j in js:
        assert j.labels == LABELS[j.kind]
        assert j.overall == (1 if j.kind == "positive" else 0)
        if j.kind != "positive":
            assert j.labels[PRIMARY[j.kind]] == 0
    ex = _examples()
    for j in js:
        base = ex[j.group]
        if j.kind == "unchanged":
            assert np.array_equal(np.asarray(j.edited_image), np.asarray(base.source_image))
        if j.kind == "other_instruction":
            assert j.instruction != base.instruction
        if j.kind == "degraded":
            assert j.detail["degradation"] in DEGRADATIONS


def test_training_mix_cycles_kinds_and_fills_missing_neg_prompts():
    js = build_judgements(_examples(10, negs=False), seed=0, negatives_per_example=2)
    counts = {}
    for j in js:
        counts[j.kind] = counts.get(j.kind, 0) + 1
    assert counts["positive"] == 10 and sum(counts.values()) == 30
    assert "neg_prompt" not in counts  # none available: replaced by other kinds


def test_degradations_change_pixels_visibly():
    import random

    from synthetic import Scene, SceneObject, render

    img = render(Scene((SceneObject("circle", "red", "center"),)), 64)

    for how in DEGRADATIONS:
        out = degrade(img, how, random.Random(0))
        assert out.size == img.size
        assert np.abs(np.asarray(out, float) - np.asarray(img, float)).mean() > 2.0, how


def test_motion_blur_smears_along_one_axis_only():
    import random

    from PIL import Image

    a = np.zeros((40, 40, 3), np.uint8)
    a[20, 20] = 255  # one bright pixel: its smear is a line
    for seed in range(4):
        out = np.asarray(degrade(Image.fromarray(a), "motion_blur", random.Random(seed)))[..., 0]
        rows, cols = np.nonzero(out)
        assert len(rows) >= 5 and (len(set(rows)) == 1 or len(set(cols)) == 1)
