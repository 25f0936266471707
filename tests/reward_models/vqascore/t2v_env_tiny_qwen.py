"""Build a tiny Qwen2.5-VL folder with the t2v-metrics environment's transformers (4.49).

Run by test_vqascore_t2v_metrics_real.py with the t2v-metrics interpreter, never imported by
pytest: `python t2v_env_tiny_qwen.py OUT_DIR CHAT_TEMPLATE_FILE`. A folder written by the older
transformers is what real users bring (hub checkpoints) and what the project's transformers 5
reads back. Patch 14 with 2x2 merge (the real 28 grid) and the real processor's pixel bounds, so
t2v-metrics' preprocessing is exercised as on a real Qwen2.5-VL. The "Yes" row of the untied
output layer is set so P("Yes") spreads over inputs (a random model puts ~1/V everywhere).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2TokenizerFast,
    Qwen2VLImageProcessor,
)

SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
           "<|video_pad|>"]
CORPUS = ['Does this image show "a red circle on the left"? Yes No', "system\nuser\nassistant\nYes\nNo",
          "a blue square above a green triangle, two yellow stars, the word SUN in white, a cat"] * 20


def tokenizer(template: str) -> Qwen2TokenizerFast:
    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=400, show_progress=False,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = Qwen2TokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                             unk_token=None, bos_token=None)
    tok.add_special_tokens({"additional_special_tokens": SPECIAL[1:]})
    tok.chat_template = template
    return tok


def main(out: Path, template_file: Path) -> None:
    tok = tokenizer(template_file.read_text())
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    cfg = Qwen2_5_VLConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=8192, rope_theta=10000.0,
        rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}, tie_word_embeddings=False,
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                           patch_size=14, spatial_merge_size=2, window_size=112, fullatt_block_indexes=[1]),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=None, eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        initializer_range=0.1)
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(cfg).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.do_sample = False
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=4 * 28 * 28, max_pixels=16384 * 28 * 28, patch_size=14,
                                              merge_size=2),
        tokenizer=tok, chat_template=tok.chat_template)

    # Spread P("Yes"): move the "Yes" row along the main direction of the last hidden state.
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (56, 84, 3), dtype=np.uint8)) for _ in range(24)]
    texts = [processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f'Does this image show "a cat {i}"?'}]}],
        tokenize=False, add_generation_prompt=True) for i in range(24)]
    yes = tok.encode("Yes", add_special_tokens=False)[0]
    with torch.no_grad():
        inputs = processor(text=texts, images=images, return_tensors="pt", padding=True)
        res = model(**inputs, output_hidden_states=True)
        h = res.hidden_states[-1][:, -1, :]
        top = res.logits[:, -1].mean(0).argmax().item()
        mean = h.mean(0)
        u = torch.linalg.svd(h - mean, full_matrices=False).Vh[0]
        w = model.lm_head.weight.clone()
        w[yes] = w[top] + (4.0 / ((h - mean) @ u).std()) * (u - (mean @ u) / (mean @ mean) * mean)
        logits = h @ w.T
        others = logits.clone()
        others[:, yes] = -1e9
        w[yes] -= (logits[:, yes] - torch.logsumexp(others, dim=1)).median() * mean / (mean @ mean)
        model.lm_head.weight.copy_(w)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    print(json.dumps({"folder": str(out), "vocab": len(tok)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
