"""Understanding (both encoders), prompt building and the three command-line entry points."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from unipic import describe, edit, generate
from unipic.config import UniPicConfig
from unipic.images import to_pil
from unipic.understanding import describe_images


def test_prompt_pieces_tokenize_like_the_whole_template(tiny_model):
    tok, prompts = tiny_model.tokenizer, tiny_model.prompts
    text = "<|im_start|>user\nGenerate an image: a red circle.<|im_end|>\n<|im_start|>assistant\n"
    assert prompts.user_turn("Generate an image: a red circle.") == tok(text, add_special_tokens=False)["input_ids"]
    with_image = "<|im_start|>user\n<image><image><image>\nRepeat this image.<|im_end|>\n<|im_start|>assistant\n"
    assert prompts.user_turn("Repeat this image.", 3) == tok(with_image, add_special_tokens=False)["input_ids"]
    batch = prompts.text_to_image(["a", "a much longer caption about a cat"])
    assert batch.attention_mask[0, 0] == 0 and batch.attention_mask[:, -1].all()  # left padding


def test_describe_runs_both_encoders(tiny_model):
    images = to_pil(torch.rand(2, 3, 80, 120) * 2 - 1)
    questions = ["What is this?", "Describe it."]
    answers = describe_images(tiny_model, images, questions, max_new_tokens=4)
    # left padding does not change a greedy answer: the batch answers as each image alone does
    assert answers == [describe_images(tiny_model, [im], [q], max_new_tokens=4)[0] for im, q in zip(images, questions)]
    sampled = describe_images(tiny_model, images, max_new_tokens=4, do_sample=True, seed=3)
    assert sampled == describe_images(tiny_model, images, max_new_tokens=4, do_sample=True, seed=3)
    tiny_model.config.understanding_encoder = "mar"
    try:
        mar = describe_images(tiny_model, images, max_new_tokens=3)
        assert mar == [describe_images(tiny_model, [im], max_new_tokens=3)[0] for im in images]
    finally:
        tiny_model.config.understanding_encoder = "siglip"


def test_siglip_features_depend_on_the_image(tiny_model):
    from unipic.understanding import understanding_inputs

    images = to_pil(torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    with torch.no_grad():
        feats = tiny_model.understanding_features(**understanding_inputs(tiny_model, images))
    n = tiny_model.config.siglip.num_patches
    assert feats.shape == (2 * n, tiny_model.config.llm.hidden_size)
    assert not torch.allclose(feats[:n], feats[n:])


def test_clis_write_outputs(tiny_folder, tmp_path):
    common = [str(tiny_folder), "--device", "cpu", "--num-iter", "3"]
    written = generate.main(common + ["--prompt", "a red circle", "--prompt", "a blue square",
                                      "--out", str(tmp_path / "gen"), "--batch-size", "1"])
    assert [p.name for p in written] == ["00000.png", "00001.png"]
    assert Image.open(written[0]).size == (64, 64)
    manifest = [json.loads(line) for line in (tmp_path / "gen" / "manifest.jsonl").read_text().splitlines()]
    assert [m["prompt"] for m in manifest] == ["a red circle", "a blue square"]
    assert [m["options"]["seed"] for m in manifest] == [0, 1]

    Image.new("RGB", (90, 70), (200, 30, 30)).save(tmp_path / "src.png")
    edited = edit.main(common + ["--image", str(tmp_path / "src.png"), "--instruction", "make it blue",
                                 "--out", str(tmp_path / "edit")])
    assert edited[0].name == "src_edit.png" and Image.open(edited[0]).size == (64, 64)

    rows = describe.main([str(tiny_folder), "--device", "cpu", "--image", str(tmp_path / "src.png"),
                          "--max-new-tokens", "3", "--out", str(tmp_path / "answers.jsonl")])
    assert rows[0]["question"] == "Describe the image in detail."
    assert json.loads((tmp_path / "answers.jsonl").read_text())["image"].endswith("src.png")


def test_gpu_bench_script_runs_on_the_tiny_preset(tmp_path):
    from unipic import bench_full

    result = bench_full.main(["--config", "tiny", "--device", "cpu", "--dtype", "float32", "--num-iter", "3",
                              "--batch", "2", "--out", str(tmp_path / "bench.json")])
    assert result["output_shape"] == [2, 3, 64, 64] and result["finite"]
    assert result["seconds_per_image"] == pytest.approx(result["seconds_total"] / 2, abs=1e-3)
    tokens = 2 * (64 // UniPicConfig.tiny().codec.stride) ** 2  # one per latent position, per image
    seconds = result["seconds_total"]  # rounded to 1 ms
    assert result["tokens_per_s"] == pytest.approx(tokens / seconds, rel=1e-3 / seconds, abs=0.06)
    assert json.loads((tmp_path / "bench.json").read_text()) == result
