"""The VQAScore trainer learns: a tiny Qwen2.5-VL trained by the entry point moves from chance to a
clear separation of held-out yes/no rows, read back by NativeVQAScorer exactly as the job reads it."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from reward_models.interface import ScoreBatch
from reward_models.loading import LoadSpec
from reward_models.training.cli import main
from reward_models.vqascore import NativeVQAScorer, VQAScoreConfig
from reward_models.vqascore.config import DEFAULT_TEMPLATE

WORDS = ["apple", "boat", "cloud", "door", "engine", "forest", "garden", "harbor", "island", "jacket", "kettle",
         "ladder", "mountain", "needle", "orange", "pencil", "quilt", "river", "saddle", "tower", "umbrella",
         "violin", "window", "yacht", "zebra", "anchor", "bridge", "candle", "desert", "feather"]
IMG = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def _image(bright: bool, rng: np.random.Generator) -> Image.Image:
    base = rng.integers(170, 255) if bright else rng.integers(0, 80)
    arr = np.clip(base + rng.normal(0, 12, (32, 32, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _rows(n: int, seed: int) -> list[dict]:
    """'a photo of a {word}' with a bright image (yes) or a dark one (no): the label is knowable
    from the image, the texts vary so the trainer's held-out split (by text) has rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        yes = i % 2 == 0
        text = f"a photo of a {WORDS[int(rng.integers(len(WORDS)))]} {WORDS[int(rng.integers(len(WORDS)))]}"
        rows.append({"image": {"bytes": _png(_image(yes, rng)), "path": None}, "text": text,
                     "label": "yes" if yes else "no"})
    return rows


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from reward_models.img_reward import tiny_judge_config
    from reward_models.tiny import build_tiny_qwen25vl

    corpus = [DEFAULT_TEMPLATE.format(f"a photo of a {a} {b}") for a in WORDS for b in WORDS[:5]] + ["Yes No"] * 20
    return build_tiny_qwen25vl(tmp_path_factory.mktemp("vqa_base"),
                               tiny_judge_config(corpus, initializer_range=0.1, max_pixels=32 * 32))


def _auc(pos, neg) -> float:
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


@pytest.mark.slow  # ~75 s on a busy 2-core machine
def test_vqascore_entry_point_learns_and_is_read_as_trained(base, tmp_path):
    data = tmp_path / "vqa"
    data.mkdir()
    train = _rows(320, 0) + [{"image": {"bytes": b"not an image", "path": None}, "text": "broken", "label": "yes"},
                             {"image": {"bytes": _png(_image(True, np.random.default_rng(1))), "path": None},
                              "text": "no label", "label": "maybe"}]
    pq.write_table(pa.Table.from_pylist(train, schema=pa.schema([("image", IMG), ("text", pa.string()),
                                                                 ("label", pa.string())])),
                   data / "train-00000-of-00001.parquet")
    qa = tmp_path / "qa"
    qa.mkdir()
    pq.write_table(pa.table({"image": pa.array([{"bytes": _png(_image(True, np.random.default_rng(2))), "path": None}],
                                               IMG), "question": ["Is it bright?"], "answer": ["Yes"]}),
                   qa / "train-00000-of-00001.parquet")
    out = tmp_path / "judge"
    summary = main(["--model_name_or_path", str(base), "--vqa", str(data), "--qa", str(qa),
                    "--output_dir", str(out), "--num_train_epochs", "4", "--learning_rate", "2e-3",
                    "--per_device_train_batch_size", "16", "--eval_fraction", "0.2", "--report_to", "none",
                    "--save_strategy", "no", "--seed", "0"],
                   script="reward_models.vqascore.train:VQAScoreArgs", config="trl:SFTConfig",
                   train="reward_models.vqascore.train:train_vqascore", name="vqa-learning")
    assert summary["skipped"] and sum(summary["skipped"].values()) == 2  # undecodable image, bad label
    assert summary["train_qa_rows"] == 1 and summary["eval_rows"] > 20

    held = _rows(80, 99)
    scorer = NativeVQAScorer(spec=LoadSpec(str(out), device="cpu", dtype="float32"),
                             config=VQAScoreConfig(max_pixels=32 * 32, batch_size=16))
    imgs = [Image.open(io.BytesIO(r["image"]["bytes"])) for r in held]
    scores = scorer.score(ScoreBatch([r["text"] for r in held], imgs)).score
    yes = [s for s, r in zip(scores, held) if r["label"] == "yes"]
    no = [s for s, r in zip(scores, held) if r["label"] == "no"]
    # A random model already ranks bright above dark now and then (AUC is threshold-free), but its
    # P("Yes") is ~1/vocabulary everywhere: the job's threshold accepts nothing. Learning shows in
    # the thresholded accuracy, the number the job's decision uses.
    before = summary["eval_before"]["accuracy"]
    acc = (np.mean(np.asarray(yes) >= 0.5) + np.mean(np.asarray(no) < 0.5)) / 2
    print(f"held-out accuracy at 0.5: before {before:.3f}, after (fresh seed, through the scorer) {acc:.3f}; "
          f"AUC after {_auc(yes, no):.3f}; card after {summary['eval_after']}")
    assert summary["eval_before"]["yes_accepted"] <= 0.1
    assert acc >= 0.9 and acc > before + 0.3
    assert _auc(yes, no) >= 0.95 and summary["eval_after"]["accuracy"] >= 0.9
    meta = json.loads((out / "vqascore.json").read_text())
    assert meta["template"] == DEFAULT_TEMPLATE and meta["answer"] == "Yes"
    assert meta["evaluation"]["eval_after"]["auc"] == pytest.approx(summary["eval_after"]["auc"])
    assert "Held-out evaluation" in (out / "README.md").read_text()
    assert (out / "model.safetensors").exists()
