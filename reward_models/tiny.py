"""Small Qwen2.5-VL models built locally, for tests and the embedded default.

Nothing can be downloaded on our machines, so tests and the demo build a real (tiny)
Qwen2.5-VL checkpoint here: a byte-level BPE tokenizer trained on a small corpus, Qwen's
special tokens and chat template, a real `Qwen2_5_VLProcessor`, and a randomly initialised
`Qwen2_5_VLForConditionalGeneration`. Everything is saved with `save_pretrained` so the
same `from_pretrained` code path that loads real checkpoints loads these.
`build_random_qwen25vl_7b` builds the 7B architecture with random weights (for timing only).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

# Qwen's pre-tokenizer split (numbers are split into single digits, which keeps every
# score digit a single token, as in the real Qwen2.5 tokenizer).
QWEN_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Words every tiny model should know as whole tokens: answer words, score digits and the
# reasoning tags used by the reward models' prompts.
BASE_CORPUS = [
    "Yes No yes no Yes. No. Yes, No, YES NO",
    "0 1 2 3 4 5 6 7 8 9 10",
    "<think> </think> <answer> </answer> <think></think><answer></answer>",
    "Image 1 Image 2 image the a an of and with on in to is this that show does Does",
    "compliance consistency quality overall alignment fidelity coherence score rating",
    "You are a helpful assistant. Generate an image. Repeat this image. Describe the image.",
    'Does this image show "a red circle"? Does this figure show "{}"? Please answer yes or no.',
    # Chat-template words as they appear after <|im_start|> (no leading space), and bare answers.
    "system\nuser\nassistant\nYes\nNo\nsystem\nuser\nassistant",
]


def chat_template() -> str:
    """Qwen2.5-VL's chat template, as TRL ships it (the same text as the real processor's)."""
    import trl

    path = Path(trl.__file__).parent / "chat_templates" / "qwen2_5_vl.jinja"
    return path.read_text()


def build_tiny_tokenizer(corpus: Iterable[str] = (), vocab_size: int = 1024):
    """Train a tiny byte-level BPE with Qwen's pre-tokenizer and wrap it as a `Qwen2Tokenizer`.

    Returns a transformers tokenizer with Qwen's special tokens, `<|im_end|>` as EOS and
    `<|endoftext|>` as padding, padding on the left (what batched scoring needs).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        special_tokens=[],
    )
    # Repeat the base corpus so its words merge into whole tokens even beside a larger corpus.
    texts = list(BASE_CORPUS) * 20 + [t for t in corpus if t]
    bpe.train_from_iterator(texts, trainer=trainer)
    state = json.loads(bpe.to_str())
    vocab = state["model"]["vocab"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["model"]["merges"]]
    tok = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
    )
    tok.add_special_tokens({"additional_special_tokens": QWEN_SPECIAL_TOKENS[1:]})
    tok.padding_side = "left"
    # Persisted only through init_kwargs (see ../shared/docs/offline-tiny-models.md).
    tok.init_kwargs["padding_side"] = "left"
    tok.chat_template = chat_template()
    return tok


@dataclass
class TinyVLConfig:
    """Sizes of a locally built Qwen2.5-VL. Defaults give a ~0.5M-parameter model."""

    hidden_size: int = 64
    """Width of the language model."""
    num_hidden_layers: int = 2
    """Language-model layers."""
    num_attention_heads: int = 4
    """Query heads (head_dim = hidden_size / heads)."""
    num_key_value_heads: int = 2
    """Key/value heads (grouped-query attention, as in Qwen2.5)."""
    intermediate_size: int = 128
    """Language-model MLP width."""
    vision_hidden_size: int = 32
    """Width of the vision tower."""
    vision_depth: int = 2
    """Vision-tower blocks."""
    vision_heads: int = 2
    """Vision-tower attention heads."""
    vision_intermediate_size: int = 64
    """Vision-tower MLP width."""
    patch_size: int = 14
    """Vision patch size in pixels (14 in the real model)."""
    spatial_merge_size: int = 2
    """Patches merged per side into one LLM token (2 in the real model)."""
    window_size: int = 56
    """Vision window-attention size in pixels (112 in the real model)."""
    min_pixels: int = 28 * 28
    """Image processor's lower pixel bound."""
    max_pixels: int = 112 * 112
    """Image processor's upper pixel bound (the pixel budget)."""
    vocab_size: int = 1024
    """BPE vocabulary size before special tokens."""
    initializer_range: float | None = None
    """Std of the random weights. None keeps transformers' 0.02, which suits widths in the
    thousands; a tiny model learns far faster from about 1/sqrt(width) (0.1 or so at width 64-128):
    with 0.02 its attention starts so flat that comparisons (is this word's colour the image's?)
    sit on a plateau for thousands of steps."""
    rope_theta: float = 1e6
    """Language-model RoPE base (1e6 in the real model). With a small head_dim, Qwen's multimodal
    RoPE gives the width axis only the slowest frequencies: a small base (e.g. 10) lets a tiny
    model tell image columns apart."""
    seed: int = 0
    """Seed for the random weights."""
    corpus: list[str] = field(default_factory=list)
    """Extra text to train the tokenizer on (prompts the model will see)."""


def _mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary frequencies over (time, height, width) as Qwen does (2:3:3)."""
    half = head_dim // 2
    t = max(1, round(half * 2 / 8))
    h = (half - t) // 2
    return [t, h, half - t - h]


def build_tiny_qwen25vl(path: str | os.PathLike, config: TinyVLConfig | None = None) -> Path:
    """Build and save a tiny Qwen2.5-VL model and processor at `path`; return the path.

    The folder holds `config.json`, `model.safetensors`, the tokenizer, the processor
    configs and the chat template, exactly like a hub checkpoint.
    """
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    cfg = config or TinyVLConfig()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = build_tiny_tokenizer(cfg.corpus, cfg.vocab_size)
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    init_kw = {} if cfg.initializer_range is None else {"initializer_range": cfg.initializer_range}
    ids = {name: tok.convert_tokens_to_ids(name) for name in QWEN_SPECIAL_TOKENS}
    text_config = dict(
        vocab_size=len(tok),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        max_position_embeddings=4096,
        rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta, "mrope_section": _mrope_section(head_dim)},
        tie_word_embeddings=True,
        bos_token_id=None,
        **init_kw,
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    vision_config = dict(
        depth=cfg.vision_depth,
        hidden_size=cfg.vision_hidden_size,
        intermediate_size=cfg.vision_intermediate_size,
        num_heads=cfg.vision_heads,
        out_hidden_size=cfg.hidden_size,
        patch_size=cfg.patch_size,
        spatial_merge_size=cfg.spatial_merge_size,
        window_size=cfg.window_size,
        fullatt_block_indexes=[cfg.vision_depth - 1],
        **init_kw,
    )
    model_config = Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
        **init_kw,
    )
    torch.manual_seed(cfg.seed)
    model = Qwen2_5_VLForConditionalGeneration(model_config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.do_sample = False
    model.save_pretrained(path, safe_serialization=True)

    image_processor = Qwen2VLImageProcessor(
        min_pixels=cfg.min_pixels,
        max_pixels=cfg.max_pixels,
        patch_size=cfg.patch_size,
        merge_size=cfg.spatial_merge_size,
    )
    video_processor = Qwen2VLVideoProcessor(patch_size=cfg.patch_size, merge_size=cfg.spatial_merge_size)
    processor = Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        video_processor=video_processor,
        chat_template=chat_template(),
    )
    processor.save_pretrained(path)
    (path / "tiny_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    return path


def build_random_qwen25vl_7b(path: str | os.PathLike, max_pixels: int) -> Path:
    """Qwen2.5-VL-7B shapes, random bf16 weights (built on the GPU when there is one), the tiny tokenizer
    (its ids stay inside the 7B vocabulary) and an image processor bounded by `max_pixels`; saved at
    `path`. For timing only: `pipelines/bench_vqascore.py --arch 7b`."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    path = Path(path)
    tok = build_tiny_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    cfg = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                         num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
                         eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"]),
        vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584,
                           patch_size=14, spatial_merge_size=2, window_size=112,
                           fullatt_block_indexes=[7, 15, 23, 31]),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen2_5_VLForConditionalGeneration(cfg).to(torch.bfloat16)
    model.save_pretrained(path)
    Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=max_pixels // 4, max_pixels=max_pixels),
                        tokenizer=tok, video_processor=Qwen2VLVideoProcessor(),
                        chat_template=chat_template()).save_pretrained(path)
    return path
