"""Defaults that must match the published UniPic code on a converted release.

- understanding describes through the published path (MAR-encoder features in the `<image>`
  slots, as the release's `scripts/image2text.py` does), the SigLIP2 path only when asked;
- sampling iterations: the report's 64 by default, and the help says the published CLIs use 32;
- prompts, instructions, questions and answers are stripped, as published training and scripts do.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from unipic import describe, edit, generate
from unipic.checkpoint import convert_published, load_pretrained
from unipic.sampling import SampleOptions, edit_images, generate_tokens
from unipic.train.losses import prompts_t2i
from unipic.understanding import describe_images

from .test_checkpoint import _published_release

FAST = SampleOptions(num_iter=3)
QUESTION = "Describe the image in detail."


@pytest.fixture(scope="module")
def converted(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("published")
    _published_release(tiny_model, root / "release")
    convert_published(root / "release" / "pytorch_model.bin", root / "release" / "kl16.ckpt", root / "release" / "qwen",
                      root / "ours", tiny_model.config, dtype=None)
    return root / "ours"


def image2text_reference(model, image: Image.Image, question: str, max_new_tokens: int) -> str:
    """The release's image2text.py: grey (127) square, resize, 2*(x/255)-1, `<image>` x
    ((size/16)^2 + 64 buffers) + newline + question in the Qwen chat turn, MAR-encoder features
    written into the `<image>` embeddings, greedy decoding."""
    size, stride, buffers = model.config.image_size, model.codec.stride, model.mar.buffer_size
    w, h = image.size
    square = Image.new("RGB", (max(w, h), max(w, h)), (127, 127, 127))
    square.paste(image, ((max(w, h) - w) // 2, (max(w, h) - h) // 2))
    pixels = torch.from_numpy(np.array(square.resize((size, size)))).float().permute(2, 0, 1)[None]
    pixels = 2 * (pixels / 255) - 1
    n = (size // stride) ** 2 + buffers
    prompt = f"<|im_start|>user\n{'<image>' * n}\n{question}<|im_end|>\n<|im_start|>assistant\n"
    tok = model.tokenizer
    ids = torch.tensor([tok.encode(prompt, add_special_tokens=True)])
    image_id = tok.encode("<image>", add_special_tokens=False)[-1]
    with torch.no_grad():
        tokens, grid = model.encode_images(pixels)
        _, z_enc = model.image_features(tokens, torch.zeros(tokens.shape[:2]), grid)
        embeds = z_enc.new_zeros(*ids.shape, model.llm.config.hidden_size)
        embeds[ids == image_id] = z_enc.flatten(0, 1)
        embeds[ids != image_id] = model.llm.get_input_embeddings()(ids[ids != image_id])
        out = model.llm.generate(inputs_embeds=embeds, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=max_new_tokens, eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
                                 pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
    return tok.decode(out[0], skip_special_tokens=True).strip()


def photo(seed: int, size=(90, 60)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def test_converted_release_describes_through_the_published_mar_path(converted, tmp_path):
    model = load_pretrained(converted, device="cpu", dtype="float32")
    assert model.config.understanding_encoder == "mar"
    images = [photo(0), photo(1, (50, 80))]
    ours = describe_images(model, images, [QUESTION] * 2, max_new_tokens=6)
    ref = [image2text_reference(model, im, QUESTION, 6) for im in images]
    assert ours == ref

    # The CLI on the converted folder takes the same path; --understanding-encoder siglip is the
    # project's own path, which answers differently on the same weights.
    images[0].save(tmp_path / "a.png")
    cli = describe.main([str(converted), "--device", "cpu", "--image", str(tmp_path / "a.png"), "--max-new-tokens", "6"])
    assert cli[0]["answer"] == ref[0]
    siglip = load_pretrained(converted, device="cpu", dtype="float32", understanding_encoder="siglip")
    assert siglip.config.understanding_encoder == "siglip"
    other = describe_images(siglip, images, [QUESTION] * 2, max_new_tokens=6)
    assert other != ref
    cli_siglip = describe.main([str(converted), "--device", "cpu", "--image", str(tmp_path / "a.png"),
                                "--max-new-tokens", "6", "--understanding-encoder", "siglip"])
    assert cli_siglip[0]["answer"] == other[0]


def test_the_siglip_path_is_still_available_when_converting(tiny_model, tmp_path):
    _published_release(tiny_model, tmp_path / "release")
    rel = tmp_path / "release"
    convert_published(rel / "pytorch_model.bin", rel / "kl16.ckpt", rel / "qwen", tmp_path / "ours",
                      tiny_model.config, dtype=None, understanding_encoder="siglip")
    assert load_pretrained(tmp_path / "ours", device="cpu").config.understanding_encoder == "siglip"


@pytest.mark.parametrize("cli", [generate, edit])
def test_iterations_default_is_the_reports_and_help_names_the_published_32(cli, capsys):
    assert SampleOptions().num_iter == 64
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default 64, the report's evaluation protocol; the published UniPic CLIs use 32" in text


def test_prompts_instructions_questions_and_answers_are_stripped(tiny_model):
    p = tiny_model.prompts
    assert torch.equal(p.text_to_image(["  a red circle \n"]).input_ids, p.text_to_image(["a red circle"]).input_ids)
    assert torch.equal(p.edit(["\tmake it blue  "], 5).input_ids, p.edit(["make it blue"], 5).input_ids)
    a = p.understanding([" What is this?\n"], 5, ["  a circle\n"])
    b = p.understanding(["What is this?"], 5, ["a circle"])
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.labels, b.labels)
    # Training builds its text-to-image prompt the same way (edit and understanding go through the builder).
    assert prompts_t2i("  a red circle \n", drop=False) == "Generate an image: a red circle"
    # And whole samples do not depend on surrounding whitespace.
    torch.testing.assert_close(generate_tokens(tiny_model, [" a red circle\n"], FAST)[0],
                               generate_tokens(tiny_model, ["a red circle"], FAST)[0])
    src = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    torch.testing.assert_close(edit_images(tiny_model, src, ["  make it blue \n"], FAST),
                               edit_images(tiny_model, src, ["make it blue"], FAST))
    # The unstripped text would have given other tokens (the check above is not vacuous).
    raw = tiny_model.tokenizer("Generate an image:  a red circle \n", add_special_tokens=False)["input_ids"]
    ref = tiny_model.tokenizer("Generate an image: a red circle", add_special_tokens=False)["input_ids"]
    assert raw != ref
