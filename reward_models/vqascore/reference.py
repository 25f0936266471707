"""The reference VQAScore procedure, one pair at a time, exactly as t2v-metrics 3.0 does it.

`t2v_metrics/models/vqascore_models/qwen2vl_model.py::forward`: a user turn with the image
then the question, chat template with the generation prompt, `generate(max_new_tokens=1,
do_sample=False, output_scores=True, return_dict_in_generate=True)`, softmax of
`scores[0]`, probability of `tokenizer.encode(answer)[0]`. Used as the oracle in tests and
as the baseline in the benchmark; the job never calls it.
"""

from __future__ import annotations

from PIL import Image

from .config import DEFAULT_ANSWER, DEFAULT_TEMPLATE
from .native import answer_token_id, chat_texts


def generate_vqascore(
    model,
    processor,
    image: Image.Image,
    text: str,
    template: str = DEFAULT_TEMPLATE,
    answer: str = DEFAULT_ANSWER,
) -> float:
    """P(first token of `answer`) for one (image, text) pair, via `generate`."""
    import torch

    prompt = chat_texts(processor, [template.format(text)])
    inputs = processor(text=prompt, images=[image], padding=True, return_tensors="pt")
    device = next(model.parameters()).device
    inputs = inputs.to(device)
    if "pixel_values" in inputs:
        inputs["pixel_values"] = inputs["pixel_values"].to(next(model.parameters()).dtype)
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            max_new_tokens=1,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
        )
    probs = torch.softmax(out.scores[0].float(), dim=-1)
    return float(probs[0, answer_token_id(processor.tokenizer, answer)])
