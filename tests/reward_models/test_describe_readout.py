"""Describe-then-answer: the judge's own greedy description becomes its `<think>`, and the score is
read after it. The batched, branched readout must be deterministic and equal a plain reference
procedure (one `generate` per image, then one forward pass per aspect over the full text)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from reward_models.edit_reward.layout import default_edit_layout
from reward_models.img_reward.layout import default_img_layout
from reward_models.judging.describe import DescriptionCache, Describer, describe_turn
from reward_models.judging.layout import with_describe
from reward_models.judging.readout import BranchReadout, answer_token_ids

QUESTION = "Describe the image."


def _load(folder):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    proc = AutoProcessor.from_pretrained(folder, padding_side="left")
    model = AutoModelForImageTextToText.from_pretrained(folder).eval()
    # A freshly built tiny model is nearly flat and describes every image alike ("\n\n\n..."): redraw its
    # weights larger so that descriptions, and the answers after them, depend on the image.
    torch.manual_seed(0)
    with torch.no_grad():
        for w in model.parameters():
            if w.dim() >= 2:
                w.normal_(0.0, 0.3)
    # Special tokens would end or blank the descriptions: suppress them in every generate call.
    model.generation_config.suppress_tokens = sorted(proc.tokenizer.all_special_ids)
    return model, proc


def _images(n, seed=0, sizes=((64, 64), (48, 64), (32, 32))):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (*sizes[i % len(sizes)], 3), dtype=np.uint8)) for i in range(n)]


def _reference_description(model, proc, image, max_new_tokens, question=QUESTION):
    """One image, one `generate` call, greedy."""
    text = proc.apply_chat_template(describe_turn(question), add_generation_prompt=True, tokenize=False)
    enc = proc(text=[text], images=[[image]], return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
    return proc.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def _reference_scores(model, proc, layout, images, prompt, aspect):
    """Describe each image, then score the full text (prompt + `<think>descriptions</think><answer>`) alone."""
    think = layout.rationale_from([_reference_description(model, proc, im, layout.describe_max_new_tokens,
                                                          layout.describe_question)
                                   for im in images])
    text = proc.apply_chat_template(layout.messages(prompt, aspect, len(images)), add_generation_prompt=True,
                                    tokenize=False) + f"{layout.think_prefix}{think}{layout.answer_open}"
    enc = proc(text=[text], images=[list(images)], return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        logits = model(**enc).logits[0, -1]
    ids = answer_token_ids(proc.tokenizer, layout)
    p = torch.softmax(logits[ids].double(), dim=-1).numpy()
    return float(p @ np.asarray(layout.answer_values)), think


def test_batched_descriptions_equal_one_at_a_time_generate(tiny_img_judge):
    model, proc = _load(tiny_img_judge)
    images = _images(5)
    d = Describer(model, proc, QUESTION, max_new_tokens=12, batch_size=4)
    batched = d.describe(images)
    assert batched == [_reference_description(model, proc, im, 12) for im in images]
    assert batched == d.describe(images), "greedy descriptions must be deterministic"
    assert len(set(batched)) > 1, "test model too flat: every image got the same description"


@pytest.mark.parametrize("kind", ["img", "edit"])
def test_describe_then_answer_equals_reference_procedure(tiny_img_judge, tiny_edit_judge, kind):
    folder, layout = ((tiny_img_judge, default_img_layout()) if kind == "img"
                      else (tiny_edit_judge, default_edit_layout()))
    layout = with_describe(layout, QUESTION)
    layout.describe_max_new_tokens = 10
    model, proc = _load(folder)
    n_img = layout.n_images
    pics = _images(3 * n_img, seed=1)
    rows = [(pics[i * n_img:(i + 1) * n_img], cap) for i, cap in enumerate(["a red circle", "x", "a blue square"])]
    readout = BranchReadout(model, proc, layout, mode="branched", describe_batch_size=2)
    assert readout.describe
    got = readout.read(rows)
    again = readout.read(rows)
    for aspect in layout.aspects:
        assert np.array_equal(got[aspect].probs, again[aspect].probs), "the readout must be deterministic"
        for i, (imgs, cap) in enumerate(rows):
            want, think = _reference_scores(model, proc, layout, imgs, cap, aspect)
            assert got[aspect].mean[i] == pytest.approx(want, abs=1e-5), (aspect, i, think)
    if kind == "edit":
        assert readout.rationales(rows[:1])[0].startswith(layout.describe_labels[0])
    # The direct readout of the same checkpoint differs (it teacher-forces an empty rationale).
    direct = BranchReadout(model, proc, layout, mode="branched", describe=False).read(rows)
    assert not np.allclose(direct[layout.score_aspect].probs, got[layout.score_aspect].probs)


def test_description_cache_describes_each_picture_once(tiny_img_judge):
    model, proc = _load(tiny_img_judge)
    calls = []

    class Counting(Describer):
        def describe(self, images):
            calls.append(len(images))
            return super().describe(images)

    cache = DescriptionCache(Counting(model, proc, QUESTION, max_new_tokens=4))
    a, b = _images(2, seed=3, sizes=((32, 32),))
    cache.describe_all([a, b, a.copy(), b])
    cache.describe_all([a])
    assert calls == [2]
    rows = cache.replay_rows([a, b, a.copy()])
    assert len(rows) == 2 and rows[0]["prompt"] == describe_turn(QUESTION)
    assert rows[0]["completion"][0]["content"][0]["text"] == cache[a]


def test_the_shipped_judge_reads_as_the_reference_procedure_on_world_images():
    """The same equality on a trained judge (real descriptions, real answers), as the job loads it."""
    from reward_models.img_reward.scorer import ImgRewardScorer
    from reward_models.loading import LoadSpec
    from recipes.shipped_judges import SHIPPED
    from synthetic import candidates

    folder = SHIPPED / "img_reward"
    if not (folder / "model.safetensors").exists():
        pytest.skip("no shipped judges")
    import io

    rows = [r for r in candidates(12, 4242) if r["task"] == "t2i" and json.loads(r["meta"]).get("fault") != "broken_file"][:3]
    images = [Image.open(io.BytesIO(r["image"])).convert("RGB") for r in rows]
    from reward_models.judging.layout import load_layout

    # The shipped judge is read by likelihood; its describer and answer tokens are read here the
    # describe-then-answer way (the option `readout_mode="answer"` keeps), as the job would read them.
    layout = with_describe(load_layout(folder, default_img_layout(), "img_reward"), QUESTION)
    scorer = ImgRewardScorer(spec=LoadSpec(str(folder), device="cpu", dtype="float32"), calibrate=False,
                             layout=layout, readout_mode="answer")
    assert scorer.readout.describe
    got = scorer.read_rows([([im], r["prompt"]) for im, r in zip(images, rows)])
    model, proc, layout = scorer.loaded.model, scorer.loaded.processor, scorer.layout
    for i, (im, r) in enumerate(zip(images, rows)):
        want, think = _reference_scores(model, proc, layout, [im], r["prompt"], layout.score_aspect)
        assert "background" in think
        assert got[layout.score_aspect].mean[i] == pytest.approx(want, abs=1e-5)


def test_reading_copies_blank_the_pictures_of_a_share_of_rows_and_are_never_replayed():
    from reward_models.training.descriptions import BLANK_GREY, with_reading_copies

    pictures = [Image.new("RGB", (32 + 8 * (i % 3), 32), (10 * i, 200, 30)) for i in range(200)]
    rows = [{"images": [im], "prompt": f"p{i}", "completion": f"c{i}"} for i, im in enumerate(pictures)]
    summary: dict = {}
    out = with_reading_copies(rows, 0.25, seed=3, summary=summary)
    copies = [r for r in out if r["images"][0].getpixel((0, 0)) == BLANK_GREY]
    assert len(out) == len(rows) + len(copies) == len(rows) + summary["reading_copies"]
    assert 30 <= len(copies) <= 70  # about a quarter of 200
    by_prompt = {r["prompt"]: r for r in rows}
    for c in copies:  # same prompt and answer, every picture blank at its own size
        original = by_prompt[c["prompt"]]
        assert c["completion"] == original["completion"]
        assert c["images"][0].size == original["images"][0].size
        assert set(c["images"][0].getdata()) == {BLANK_GREY}
    assert sorted(r["prompt"] for r in out if r not in copies) == sorted(by_prompt)  # originals all kept, unchanged
    assert with_reading_copies(rows, 0.0, seed=3) is rows

    class FixedDescriber:
        question = "Describe the image."

        def describe(self, images):
            return [f"picture {im.size}" for im in images]

    cache = DescriptionCache(FixedDescriber())
    cache.describe_all(pictures)
    replayed = cache.replay_rows([im for r in out for im in r["images"]])
    assert len(replayed) == len({DescriptionCache.key(p) for p in pictures})  # blank copies are not replayed
