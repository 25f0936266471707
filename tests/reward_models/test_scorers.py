"""The scoring job's contract: Scorer protocol, [0,1] outputs, batching, layout from reward_model.json."""

import json

import numpy as np
import pytest
from PIL import Image

from reward_models.edit_reward import EditRewardScorer
from reward_models.img_reward import ImgRewardScorer
from reward_models.interface import ScoreBatch, Scorer
from reward_models.loading import LoadSpec, load_vl_model
from synthetic import edit_triplets, preference_pairs


def _imgs(n, seed=0):
    return [p.preferred for p in preference_pairs(n, seed)] + [Image.new("L", (200, 120), 30)]


def test_img_scorer_contract(tiny_img_judge):
    scorer = ImgRewardScorer(spec=LoadSpec(str(tiny_img_judge), device="cpu"), batch_size=2)
    assert isinstance(scorer, Scorer) and scorer.needs_source_image is False
    imgs = _imgs(4)
    batch = ScoreBatch(prompts=[f"a red circle {i}" for i in range(len(imgs))], images=imgs)
    out = scorer.score(batch)
    assert out.score.shape == (5,) and set(out.sub_scores) == {"alignment", "fidelity", "integrity"}
    assert out.model_id == str(tiny_img_judge) and out.model_revision.startswith("local-")
    assert "img_reward/v1" in out.info["readout"]
    # Batched (chunks of 2) equals one at a time, and repeated calls are identical.
    singles = np.array([scorer.score(batch.subset([i])).score[0] for i in range(5)])
    assert np.allclose(singles, out.score, atol=1e-5)
    assert np.array_equal(scorer.score(batch).score, out.score)


def test_preference_is_position_debiased(tiny_img_judge):
    scorer = ImgRewardScorer(load_vl_model(LoadSpec(str(tiny_img_judge), device="cpu")))
    a, b = _imgs(2)[:2]
    p = scorer.preference("a blue square", a, b)
    assert 0.0 <= p <= 1.0
    assert p + scorer.preference("a blue square", b, a) == pytest.approx(1.0, abs=1e-9)


def test_rationale_generation(tiny_img_judge):
    scorer = ImgRewardScorer(spec=LoadSpec(str(tiny_img_judge), device="cpu"))
    out = scorer.rationale("a red circle", _imgs(1)[0], max_new_tokens=6)
    assert set(out) == {"text", "rationale", "value", "format_ok"}
    assert out == scorer.rationale("a red circle", _imgs(1)[0], max_new_tokens=6)  # greedy: repeatable


def test_prompts_come_from_reward_model_json(tiny_img_judge, tmp_path):
    import shutil

    folder = tmp_path / "judge"
    shutil.copytree(tiny_img_judge, folder)
    data = json.loads((folder / "reward_model.json").read_text())
    data["aspects"]["overall"] = "Is it good? Give a digit."
    (folder / "reward_model.json").write_text(json.dumps(data))
    custom = ImgRewardScorer(spec=LoadSpec(str(folder), device="cpu"))
    default = ImgRewardScorer(spec=LoadSpec(str(tiny_img_judge), device="cpu"))
    assert custom.layout.aspects["overall"] == "Is it good? Give a digit."
    batch = ScoreBatch(prompts=["a red circle"], images=_imgs(1)[:1])
    assert not np.allclose(custom.score(batch).score, default.score(batch).score, atol=1e-9)
    data["kind"] = "edit_reward"
    (folder / "reward_model.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="kind"):
        ImgRewardScorer(spec=LoadSpec(str(folder), device="cpu"))


def test_edit_scorer_contract(tiny_edit_judge):
    scorer = EditRewardScorer(spec=LoadSpec(str(tiny_edit_judge), device="cpu"), batch_size=3)
    assert isinstance(scorer, Scorer) and scorer.needs_source_image is True
    ts = edit_triplets(4, 0)
    batch = ScoreBatch(prompts=[t.instruction for t in ts], images=[t.edited for t in ts],
                       source_images=[t.source for t in ts])
    out = scorer.score(batch)
    assert set(out.sub_scores) == {"compliance", "consistency", "quality"}
    assert np.isfinite(out.score).all()  # [0, 1] is ScoreOutput's own check; NaN is not
    singles = np.array([scorer.score(batch.subset([i])).score[0] for i in range(4)])
    assert np.allclose(singles, out.score, atol=1e-5)
    with pytest.raises(ValueError, match="source image"):
        scorer.score(ScoreBatch(prompts=["x"], images=[ts[0].edited]))
    first = scorer.rationale("x", ts[0].source, ts[0].edited, max_new_tokens=4)
    assert first == scorer.rationale("x", ts[0].source, ts[0].edited, max_new_tokens=4)  # greedy: repeatable


def test_cards_and_layout_files(tiny_img_judge, tiny_edit_judge):
    for folder, kind in [(tiny_img_judge, "img_reward"), (tiny_edit_judge, "edit_reward")]:
        data = json.loads((folder / "reward_model.json").read_text())
        assert data["kind"] == kind and data["readout_version"] == 1
        assert (folder / "README.md").read_text().startswith("#")
        assert (folder / "model.safetensors").exists()
