"""The likelihood readout: the caption or instruction teacher-forced as the judge's own description.

Batched reads must equal a plain reference procedure (the whole text through the processor in one
call, one forward pass per row, the probabilities read by hand) and be deterministic; the scorer
must pick this readout from the folder's layout, keep the answer-token readout on request, and
apply the folder's calibration only to the readout it was fitted on. The shipped ImgReward, read
this way, must tell a caption of the picture from the same caption with one word changed.
"""

import json
import shutil

import numpy as np
import pytest
import torch

from reward_models.judging.describe import describe_turn
from reward_models.judging.likelihood import LikelihoodReadout, LikelihoodSpec

from .test_describe_readout import _images


def _load(folder, std=0.06):
    """The tiny judge with weights redrawn so that probabilities depend on the pictures and words, yet
    stay far from 0 and 1 (a product of aspects must not underflow)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    proc = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for w in model.parameters():
            if w.dim() >= 2:
                w.normal_(0.0, std)
    return model, proc

SPEC = LikelihoodSpec("Describe the image.", 1, quality_words=["clean", "noisy"], flaw_words=["sliced"],
                      aspects={"overall": "product", "alignment": "text", "fidelity": "quality",
                               "integrity": "flaws", "consistency": "refusal:another"})
PAIR_SPEC = LikelihoodSpec("What changed?", 2, quality_words=["clean", "noisy"],
                           aspects={"overall": "product", "compliance": "text", "quality": "quality"})


def _reference(model, proc, spec, images, text):
    """Prompt and answer through the processor as one text, one forward pass, read by hand."""
    tok = proc.tokenizer
    prompt = proc.apply_chat_template(describe_turn(spec.question, spec.n_images), add_generation_prompt=True,
                                      tokenize=False)
    answer = text.rstrip(".") + spec.suffix
    enc = proc(text=[prompt + answer], images=[list(images)], return_tensors="pt", add_special_tokens=False)
    n_prompt = len(proc(text=[prompt], images=[list(images)], add_special_tokens=False)["input_ids"][0])
    with torch.no_grad():
        logp = torch.log_softmax(model(**enc).logits[0].float(), -1)
    target = enc["input_ids"][0, n_prompt:]
    rows = logp[n_prompt - 1 : -1]
    p_tok = rows.gather(1, target[:, None])[:, 0].exp()
    flaw_ids = sorted({tok.encode(w, add_special_tokens=False)[0] for f in spec.flaw_words for w in (f, " " + f)})
    p_flaw = rows[:, flaw_ids].exp().sum(1) if flaw_ids else torch.zeros_like(p_tok)
    q_ids = [tok.encode(" " + w, add_special_tokens=False)[0] for w in spec.quality_words]
    out = {}
    for name, how in spec.aspects.items():
        if how == "text":
            out[name] = float((p_tok / (1 - p_flaw)).min())
        elif how == "flaws":
            out[name] = float(1 - (p_flaw / (p_flaw + p_tok)).max())
        elif how == "quality":
            out[name] = float(torch.softmax(logp[-1, q_ids], 0)[0])
        elif how.startswith("refusal:"):
            w = how.split(":")[1]
            ids = sorted({tok.encode(x, add_special_tokens=False)[0] for x in (w, " " + w)})
            out[name] = float(1 - rows[0, ids].exp().sum())
    out["overall"] = float(np.prod([v for k, v in out.items() if k != "overall"]))
    return out


@pytest.mark.parametrize("kind", ["img", "edit"])
def test_batched_likelihood_readout_equals_the_reference_procedure(tiny_img_judge, tiny_edit_judge, kind):
    folder, spec = (tiny_img_judge, SPEC) if kind == "img" else (tiny_edit_judge, PAIR_SPEC)
    model, proc = _load(folder)
    pics = _images(4 * spec.n_images, seed=2)
    texts = ["a red circle on the left", "x.", "a blue square", "add a green triangle at the top, on a white background"]
    rows = [(pics[i * spec.n_images:(i + 1) * spec.n_images], t) for i, t in enumerate(texts)]
    readout = LikelihoodReadout(model, proc, spec, batch_size=3)  # a full batch and a partial one, right-padded
    got = readout.read(rows)
    again = LikelihoodReadout(model, proc, spec, batch_size=1).read(rows)
    for aspect in spec.aspects:
        assert np.allclose(got[aspect].mean, again[aspect].mean, atol=1e-5), aspect
        for i, (imgs, text) in enumerate(rows):
            want = _reference(model, proc, spec, imgs, text)[aspect]
            assert got[aspect].mean[i] == pytest.approx(want, abs=1e-5), (aspect, i)
    assert np.array_equal(got["overall"].probs, readout.read(rows)["overall"].probs), "must be deterministic"
    assert len({round(float(v), 9) for v in got["overall"].mean}) == len(rows), "test model too flat"
    assert np.all(got["overall"].mean > 0), "test model too sharp: the product underflows"


def test_spec_round_trips_and_rejects_unknown_readings():
    assert LikelihoodSpec.from_json(json.loads(json.dumps(SPEC.to_json()))) == SPEC
    with pytest.raises(ValueError, match="unknown reading"):
        LikelihoodSpec("q", aspects={"overall": "vibes"}).validate()
    with pytest.raises(ValueError, match="refusal needs a word"):
        LikelihoodSpec("q", aspects={"overall": "refusal"}).validate()


def test_the_scorer_reads_the_layouts_likelihood_and_calibrates_only_that_readout(tiny_img_judge, tmp_path):
    from reward_models.calibration import Calibration, CalibrationMap
    from reward_models.img_reward.layout import default_img_layout
    from reward_models.img_reward.scorer import ImgRewardScorer
    from reward_models.interface import ScoreBatch
    from reward_models.judging.layout import save_layout
    from reward_models.loading import LoadSpec

    folder = tmp_path / "judge"
    shutil.copytree(tiny_img_judge, folder)
    layout = default_img_layout()
    layout.likelihood = SPEC.to_json()
    save_layout(folder, layout)
    # A calibration map that sends everything to 0.25: visible whenever it is applied.
    Calibration({"overall": CalibrationMap([0.0, 1.0], [0.25, 0.25])}, "test").save(folder)
    batch = ScoreBatch(["a red circle", "a blue square"], _images(2, seed=3))

    scorer = ImgRewardScorer(spec=LoadSpec(str(folder)))
    assert scorer.info["readout"].endswith("/likelihood") and scorer.info["calibrated"] == "yes"
    assert set(scorer.aspects) == set(SPEC.aspects)
    out = scorer.score(batch)
    assert np.allclose(out.score, 0.25)
    assert set(out.sub_scores) == {"alignment", "fidelity", "integrity"}

    raw = ImgRewardScorer(spec=LoadSpec(str(folder)), calibrate=False).score(batch)
    assert not np.allclose(raw.score, 0.25) and np.all((raw.score >= 0) & (raw.score <= 1))

    answer = ImgRewardScorer(spec=LoadSpec(str(folder)), readout_mode="answer")
    assert "/likelihood" not in answer.info["readout"] and answer.info["calibrated"] == "no"
    assert set(answer.score(batch).sub_scores) == {"alignment", "fidelity", "integrity"}

    plain = tmp_path / "plain"
    shutil.copytree(tiny_img_judge, plain)
    with pytest.raises(ValueError, match="no likelihood readout"):
        ImgRewardScorer(spec=LoadSpec(str(plain)), readout_mode="likelihood")


def test_the_shipped_img_reward_prefers_the_caption_of_the_picture_to_a_one_word_change():
    """20 world scenes: the caption of what is drawn against the same caption with one attribute
    changed (colour, shape or place): the likelihood readout's alignment must rank the true caption
    higher in nearly every pair (a describer that sees)."""
    from curation.demo import SHIPPED
    from reward_models.img_reward.scorer import ImgRewardScorer
    from reward_models.interface import ScoreBatch
    from reward_models.loading import LoadSpec
    from synthetic.faults import attribute_fault
    from synthetic.prompts import caption
    from synthetic.scene import random_scene, render

    rng = np.random.default_rng(424242)
    scorer = ImgRewardScorer(spec=LoadSpec(str(SHIPPED / "img_reward")), calibrate=False)
    assert scorer.info["readout"].endswith("/likelihood")
    images, right, wrong = [], [], []
    for k in range(20):
        scene = random_scene(rng)
        other, _ = attribute_fault(scene, ("wrong_colour", "wrong_shape", "wrong_position")[k % 3], rng)
        images.append(render(scene, 64))
        right.append(caption(scene))
        wrong.append(caption(other))
    good = scorer.score(ScoreBatch(right, images)).sub_scores["alignment"]
    bad = scorer.score(ScoreBatch(wrong, images)).sub_scores["alignment"]
    assert np.mean(good > bad) >= 0.9, (good, bad)
