"""The REAL t2v-metrics 3.0 against the native backend, on a tiny local Qwen2.5-VL folder.

t2v-metrics lives in its own environment (torch 2.5.1, transformers 4.49, Pillow 10.0.0), built by
`scripts/setup_t2v_metrics.sh`. The test builds a tiny Qwen2.5-VL folder with that environment's
transformers (patch 14, 2x2 merge, the real processor's pixel bounds; its "Yes" row set so that
P("Yes") spreads), scores generator-sized images (1024x1024, 640x480, 768x1344, 333x517, ...)
with the project's t2v-metrics stage scorer (`T2VMetricsVQAScorer`, which calls the package's own
Qwen2.5-VL `forward`: qwen_vl_utils, processor, `generate`) in that environment, and with
`NativeVQAScorer` at its default (t2v-metrics) preprocessing here. They must agree to 1e-5, the
prepared pixels must be identical, and the 448x448 pixel-budget speed option must not agree.

Skips, saying so, when the environment is absent (set T2V_PYTHON, or build the default one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reward_models.interface import ScoreBatch
from reward_models.loading import LoadSpec, load_vl_model
from reward_models.vqascore import NativeVQAScorer, VQAScoreConfig
from reward_models.vqascore.preprocess import prepare_image
from synthetic.prompts import caption
from synthetic.scene import random_scene, render

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
DEFAULT_ENV = Path.home() / ".cache" / "unipic-curation" / "t2v-metrics-3.0"
SIZES = [(1024, 1024), (640, 480), (768, 1344), (333, 517), (517, 333), (56, 40)]


def t2v_python() -> str:
    if os.environ.get("T2V_PYTHON"):
        python = os.environ["T2V_PYTHON"]
        if not Path(python).exists():
            pytest.fail(f"T2V_PYTHON={python} does not exist")
        return python
    env = Path(os.environ.get("T2V_VENV", DEFAULT_ENV))
    if not (env / ".t2v-setup-stamp").exists():  # absent, or a build that did not finish
        pytest.skip(f"no finished t2v-metrics environment at {env}: build it with scripts/setup_t2v_metrics.sh "
                    "(4-12 min, 7.5 GB, needs ffmpeg; CI does not build it) or set T2V_PYTHON to its interpreter")
    return str(env / "bin" / "python")


def run_t2v(python: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode:
        raise AssertionError(f"{args[0]} failed in the t2v-metrics environment:\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-6000:]}")
    return proc.stdout


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    python = t2v_python()
    from reward_models.tiny import chat_template

    tmp = tmp_path_factory.mktemp("t2v_real")
    (tmp / "template.jinja").write_text(chat_template())
    folder = tmp / "tiny-qwen2.5-vl"
    run_t2v(python, str(HERE / "t2v_env_tiny_qwen.py"), str(folder), str(tmp / "template.jinja"), cwd=tmp)
    rng = np.random.default_rng(0)
    paths, texts = [], []
    for i, (w, h) in enumerate(SIZES):
        scene, other = random_scene(rng), random_scene(rng)
        base = render(scene, 256).resize((w, h), Image.Resampling.BICUBIC)
        arr = np.asarray(base, dtype=np.int16) + rng.integers(-40, 41, (h, w, 3))
        path = tmp / f"{i}.png"
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path)
        paths += [str(path), str(path)]
        texts += [caption(scene), caption(other)]
    request = {"checkpoint": str(folder), "images": paths, "texts": texts, "pixels": str(tmp / "pixels.npz")}
    (tmp / "request.json").write_text(json.dumps(request))
    run_t2v(python, str(HERE / "t2v_env_score.py"), str(tmp / "request.json"), str(tmp / "result.json"), cwd=tmp)
    return request, json.loads((tmp / "result.json").read_text()), np.load(tmp / "pixels.npz")


def test_the_real_package_ran_in_its_own_environment(real):
    _, result, _ = real
    assert result["model_revision"] == "t2v_metrics==3.0" and result["pillow"] == "10.0.0"
    assert "site-packages" in result["t2v_metrics_file"] and str(ROOT) not in result["t2v_metrics_file"]
    assert result["dtype"] == "torch.float32"
    assert result["info"] == {"template": 'Does this image show "{}"?', "answer": "Yes", "preprocess": "t2v-metrics"}
    assert result["model_id"].startswith("t2v_metrics:qwen2.5-vl-7b@")


def test_native_default_equals_real_t2v_metrics_on_generator_sized_images(real):
    request, result, pixels = real
    images = [Image.open(p).convert("RGB") for p in request["images"]]
    for i, img in enumerate(images):  # the pixels the processor gets are t2v-metrics' own, bit for bit
        ours, theirs = np.asarray(prepare_image(img)), pixels[f"img{i}"]
        assert ours.shape == theirs.shape and np.array_equal(ours, theirs), request["images"][i]
    loaded = load_vl_model(LoadSpec(request["checkpoint"], device="cpu", dtype="float32"))
    ref = np.asarray(result["scores"])
    native = NativeVQAScorer(loaded, config=VQAScoreConfig(batch_size=4)).score(ScoreBatch(request["texts"], images))
    diff = np.abs(native.score - ref)
    print(f"native (t2v-metrics preprocessing) vs real t2v-metrics: max |diff| = {diff.max():.3g}; "
          f"scores {np.round(ref, 4).tolist()}")
    assert diff.max() < 1e-5
    assert ref.max() - ref.min() > 0.05  # the probabilities spread: a meaningful comparison
    budget = NativeVQAScorer(loaded, config=VQAScoreConfig(batch_size=4, max_pixels=448 * 448))
    gap = np.abs(budget.score(ScoreBatch(request["texts"], images)).score - ref).max()
    print(f"pixel budget 448x448 vs real t2v-metrics: max |diff| = {gap:.3g}")
    assert gap > 1e-3  # the speed option is not the metric, and this test can tell


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q", "-s"]))
