"""ImgReward's default prompt and answer layout (used when a checkpoint has no reward_model.json)."""

from __future__ import annotations

from reward_models.judging.layout import IMAGE_SLOT, JudgeLayout

IMG_ASPECTS = {
    "overall": "Rate the image overall as a result for this caption.",
    "alignment": "Rate how well the image matches the caption: objects, colours, shapes and counts.",
    "fidelity": "Rate the visual fidelity of the image: sharp, clean, free of blur, noise and artifacts.",
    "integrity": "Rate how intact the objects are: none sliced apart, patched in two colours or doubled by a ghost.",
}


def default_img_layout() -> JudgeLayout:
    return JudgeLayout(
        kind="img_reward",
        system_prompt=(
            "You judge images generated from a caption. First think inside <think> </think>, then answer "
            "with one digit from 0 (worst) to 9 (best) inside <answer> </answer>."
        ),
        user_blocks=[IMAGE_SLOT, "Caption: {prompt}\n{question}"],
        aspects=dict(IMG_ASPECTS),
        answer_tokens=[str(d) for d in range(10)],
        answer_values=[d / 9 for d in range(10)],
        score_aspect="overall",
    )


def layout_corpus(layout: JudgeLayout) -> list[str]:
    # Repeated so the answer tokens and tags merge into whole tokens even beside a large corpus.
    """Texts a tiny tokenizer should know whole (prompts, questions, answer form)."""
    return [" ".join(layout.answer_tokens), layout.readout_prefix()] * 50 + [layout.system_prompt, *layout.aspects.values(), *layout.user_blocks, layout.answer_text("7")]
