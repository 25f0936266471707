"""Image understanding: image + question -> text.

MAR path (`understanding_encoder="mar"`, the published code's path and the default of a
converted published checkpoint): the image is padded to a grey (127) square and resized to the
model's image size, as the release's `image2text.py` does, then codec -> MAR encoder ->
`proj_in`, L + buffer features in the `<image>` slots of the question prompt. SigLIP path
(`"siglip"`, the report's description and the default for models trained here; this project's
own, not validated against released weights, which the published code never calls): the image
is padded to a grey square, resized to `SiglipConfig.image_size` and patchified by
`Siglip2ImageProcessor`; the patch features go through `siglip_proj` into the `<image>` slots.
The LLM then decodes greedily or by sampling.
"""

from __future__ import annotations

from typing import Sequence

import torch
from PIL import Image

from .images import pad_square, to_tensor
from .model import UniPic
from .prompts import DEFAULT_QUESTION, END_OF_TURN


def siglip_processor(model: UniPic):
    """The Siglip2ImageProcessor matching the model's SigLIP config (a square image gives exactly num_patches)."""
    from transformers import Siglip2ImageProcessor

    cfg = model.config.siglip
    return Siglip2ImageProcessor(patch_size=cfg.patch_size, max_num_patches=cfg.num_patches)


def understanding_inputs(model: UniPic, images: Sequence[Image.Image]) -> dict[str, torch.Tensor]:
    """Visual inputs for `UniPic.understanding_features` / `understanding_loss`."""
    if model.config.understanding_encoder == "siglip":
        size = model.config.siglip.image_size
        framed = [pad_square(im.convert("RGB")).resize((size, size), Image.BICUBIC) for im in images]
        out = siglip_processor(model)(images=framed, return_tensors="pt")
        return {k: out[k] for k in ("pixel_values", "pixel_attention_mask", "spatial_shapes")}
    return {"images": to_tensor(images, model.config.image_size, frame="pad")}


@torch.no_grad()
def describe_images(model: UniPic, images: Sequence[Image.Image], questions: Sequence[str] | None = None,
                    max_new_tokens: int = 256, do_sample: bool = False, temperature: float = 1.0,
                    top_p: float = 1.0, seed: int | None = 0) -> list[str]:
    """Answer one question per image (default: a detailed description); greedy unless `do_sample`."""
    questions = list(questions) if questions is not None else [DEFAULT_QUESTION] * len(images)
    if len(questions) != len(images):
        raise ValueError("one question per image")
    inputs = understanding_inputs(model, images)
    feats = model.understanding_features(**inputs)
    counts = model.understanding_token_counts(inputs.get("pixel_attention_mask"), inputs.get("images"))
    context = model.embed_prompt(model.prompts.understanding(questions, counts), feats)
    stop = [model.tokenizer.convert_tokens_to_ids(t) for t in (END_OF_TURN, "<|endoftext|>")]
    if seed is not None:
        torch.manual_seed(seed)
    sampling = dict(do_sample=True, temperature=temperature, top_p=top_p) if do_sample else dict(do_sample=False)
    out = model.llm.generate(inputs_embeds=context.embeds, attention_mask=context.mask,
                             max_new_tokens=max_new_tokens, eos_token_id=stop,
                             pad_token_id=model.prompts.pad_token_id, **sampling)
    return [t.strip() for t in model.tokenizer.batch_decode(out, skip_special_tokens=True)]
