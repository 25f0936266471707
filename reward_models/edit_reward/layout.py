"""EditReward's default prompt and answer layout (used when a checkpoint has no reward_model.json)."""

from __future__ import annotations

from reward_models.judging.layout import IMAGE_SLOT, JudgeLayout

EDIT_ASPECTS = {
    "compliance": "Does the edited image carry out the instruction? Answer yes or no.",
    "consistency": "Does the edited image keep everything the instruction does not ask to change? Answer yes or no.",
    "quality": "Is the edited image clean: sharp, free of blur, noise and blocking artifacts? Answer yes or no.",
    "overall": "Is this a good edit overall? Answer yes or no.",
}
DIMENSIONS = ("compliance", "consistency", "quality")


def default_edit_layout() -> JudgeLayout:
    return JudgeLayout(
        kind="edit_reward",
        system_prompt=(
            "You judge image edits. You see the source image, the edited image and the edit instruction. "
            "First think inside <think> </think>, then answer yes or no inside <answer> </answer>."
        ),
        user_blocks=["Source image:", IMAGE_SLOT, "Edited image:", IMAGE_SLOT, "Instruction: {prompt}\n{question}"],
        aspects=dict(EDIT_ASPECTS),
        # With a leading space: " yes" is one token after "<answer>" for Qwen's BPE, "yes" may merge with ">".
        answer_tokens=[" no", " yes"],
        answer_values=[0.0, 1.0],
        score_aspect="overall",
        describe_labels=["source: ", " edited: "],
    )


def layout_corpus(layout: JudgeLayout) -> list[str]:
    # Repeated so the answer tokens and tags merge into whole tokens even beside a large corpus.
    return [" ".join(layout.answer_tokens), layout.readout_prefix()] * 50 + [layout.system_prompt, *layout.aspects.values(), *layout.user_blocks,
            layout.answer_text(" yes"), layout.answer_text(" no")]
