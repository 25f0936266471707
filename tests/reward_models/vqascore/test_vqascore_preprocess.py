"""VQAScore's default preprocessing is t2v-metrics' own, on the image sizes generators emit.

The reference below is written from t2v-metrics 3.0's Qwen2(.5)-VL path and the
`qwen_vl_utils.fetch_image` it calls, independently of `reward_models/vqascore/preprocess.py`:
one pair at a time, the image snapped to the 28-pixel grid within 4*28*28 .. 16384*28*28 pixels
by PIL's default resize as Pillow 10.0.0 (t2v-metrics' pin) computes it, the processor with its own settings, `generate(max_new_tokens=1)`,
softmax of `scores[0]`. It is compared with the native backend on the SHIPPED VQAScore judge
(a trained model, whose probabilities spread) on large and off-grid images. The real package is
compared in test_vqascore_t2v_metrics_real.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reward_models.interface import ScoreBatch
from reward_models.loading import LoadSpec, load_vl_model
from reward_models.vqascore import NativeVQAScorer, VQAScoreConfig, generate_vqascore
from reward_models.vqascore.preprocess import grid_size, prepare_image
from synthetic.prompts import caption
from synthetic.scene import random_scene, render

SHIPPED = Path(__file__).resolve().parents[3] / "reward_models" / "shipped" / "vqascore"
SIZES = [(1024, 1024), (640, 480), (768, 1344), (333, 517), (1344, 768), (517, 333)]
"""(width, height): square, landscape, portrait generator outputs and off-grid sizes."""


# -- the reference, from qwen_vl_utils' fetch_image / smart_resize -----------------------------------


def reference_resize(img: Image.Image) -> Image.Image:
    factor, lo, hi = 28, 4 * 28 * 28, 16384 * 28 * 28
    w, h = img.size
    hb, wb = max(factor, round(h / factor) * factor), max(factor, round(w / factor) * factor)
    if hb * wb > hi:
        beta = math.sqrt(h * w / hi)
        hb, wb = math.floor(h / beta / factor) * factor, math.floor(w / beta / factor) * factor
    elif hb * wb < lo:
        beta = math.sqrt(lo / (h * w))
        hb, wb = math.ceil(h * beta / factor) * factor, math.ceil(w * beta / factor) * factor
    img = img.convert("RGB")
    # qwen_vl_utils calls img.resize((wb, hb)): bicubic by default, and under the Pillow 10.0.0 that
    # t2v-metrics pins, a horizontal pass then a vertical one (newer Pillow may order them otherwise).
    return img.resize((wb, h), Image.Resampling.BICUBIC).resize((wb, hb), Image.Resampling.BICUBIC)


def t2v_metrics_reference(model, processor, img: Image.Image, text: str) -> float:
    return generate_vqascore(model, processor, reference_resize(img), text)


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    if not (SHIPPED / "model.safetensors").exists():
        pytest.fail(f"the shipped VQAScore judge is missing at {SHIPPED}")
    return load_vl_model(LoadSpec(str(SHIPPED), device="cpu", dtype="float32"))


def scenes_at_sizes(seed: int = 0):
    """World scenes rendered at 256 px, resampled to each generator size, with mild noise, and a
    true and a wrong caption each (so the trained judge's P(Yes) spreads)."""
    rng = np.random.default_rng(seed)
    images, texts = [], []
    for w, h in SIZES:
        scene, other = random_scene(rng), random_scene(rng)
        base = render(scene, 256).resize((w, h), Image.Resampling.BICUBIC)
        arr = np.asarray(base, dtype=np.int16) + rng.integers(-12, 13, (h, w, 3))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        images += [img, img]
        texts += [caption(scene), caption(other)]
    return images, texts


# -- tests --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wh, expected_wh",
    [((1024, 1024), (1036, 1036)), ((640, 480), (644, 476)), ((768, 1344), (756, 1344)),
     ((333, 517), (336, 504)), ((20, 20), (56, 56)), ((5000, 4000), (4004, 3192)), ((10, 700), (28, 700))],
)
def test_grid_size_is_qwen_vl_utils_smart_resize(wh, expected_wh):
    w, h = wh
    assert grid_size(h, w)[::-1] == expected_wh  # worked out by hand from qwen_vl_utils' rules
    assert reference_resize(Image.new("RGB", wh)).size == expected_wh
    assert prepare_image(Image.new("RGB", wh)).size == expected_wh


def test_too_elongated_images_are_refused_as_t2v_metrics_does():
    with pytest.raises(ValueError, match="aspect ratio"):
        prepare_image(Image.new("RGB", (4020, 20)))


def test_prepared_pixels_equal_the_reference_and_the_budget_is_a_separate_option():
    images, _ = scenes_at_sizes(1)
    for img in images[::2]:
        ours, ref = np.asarray(prepare_image(img)), np.asarray(reference_resize(img))
        assert ours.shape == ref.shape and np.array_equal(ours, ref)
        budget = prepare_image(img, 448 * 448)
        assert budget.width * budget.height <= 448 * 448
    rgba = Image.new("RGBA", (100, 60), (10, 20, 30, 0))
    assert prepare_image(rgba).getpixel((0, 0)) == (255, 255, 255)  # transparent over white, as qwen_vl_utils


def test_default_equals_t2v_metrics_on_large_and_off_grid_images_with_the_shipped_judge(shipped):
    images, texts = scenes_at_sizes(0)
    scorer = NativeVQAScorer(shipped, config=VQAScoreConfig(batch_size=4))
    out = scorer.score(ScoreBatch(texts, images))
    ref = np.array([t2v_metrics_reference(shipped.model, shipped.processor, im, t) for im, t in zip(images, texts)])
    diff = np.abs(out.score - ref)
    print(f"native default vs t2v-metrics reference: max |diff| = {diff.max():.3g}")
    assert diff.max() < 1e-5
    assert out.info["preprocess"] == "t2v-metrics"
    assert ref.max() - ref.min() > 0.1  # the judge's probabilities spread: a meaningful comparison

    budget = NativeVQAScorer(shipped, config=VQAScoreConfig(batch_size=4, max_pixels=448 * 448))
    fast = budget.score(ScoreBatch(texts, images))
    gap = np.abs(fast.score - ref).max()
    print(f"pixel budget 448x448 vs t2v-metrics reference: max |diff| = {gap:.3g}")
    assert fast.info["preprocess"] == f"pixel-budget:{448 * 448}"
    assert gap > 5e-5  # the speed option is measurably not the metric: this test can tell them apart
