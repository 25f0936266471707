"""Arguments and loading shared by the `unipic.generate`, `unipic.edit` and `unipic.describe` CLIs."""

from __future__ import annotations

import argparse

from .sampling import SampleOptions


def add_understanding_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--understanding-encoder", choices=["mar", "siglip"], default=None,
                        help="encoder of the image: 'mar' (MAR-encoder features, the published UniPic path and "
                             "the default of converted published checkpoints) or 'siglip' (SigLIP2, this "
                             "project's own path, not validated against released weights); default: the "
                             "checkpoint's unipic_config.json")


def add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint",
                        help="UniPic checkpoint folder (unipic_config.json, model.safetensors, tokenizer/)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when visible), cpu, cuda, cuda:N")
    parser.add_argument("--dtype", default="auto", help="auto (bf16 on CUDA, fp32 on CPU), float32, bfloat16, float16")


def add_sampling_args(parser: argparse.ArgumentParser) -> None:
    d = SampleOptions()
    parser.add_argument("--num-iter", type=int, default=d.num_iter,
                        help=f"masked-autoregressive iterations (default {d.num_iter}, the report's evaluation "
                             "protocol; the published UniPic CLIs use 32)")
    parser.add_argument("--guidance", type=float, default=d.guidance_scale, help="classifier-free guidance scale")
    parser.add_argument("--guidance-schedule", choices=["constant", "linear"], default=d.guidance_schedule)
    parser.add_argument("--temperature", type=float, default=d.temperature, help="diffusion noise temperature")
    parser.add_argument("--image-size", type=int, default=None, help="output side in pixels (default: the config's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=4, help="prompts sampled together")


def sample_options(args: argparse.Namespace, seed: int | None = None) -> SampleOptions:
    return SampleOptions(num_iter=args.num_iter, guidance_scale=args.guidance, guidance_schedule=args.guidance_schedule,
                         temperature=args.temperature, image_size=args.image_size,
                         seed=args.seed if seed is None else seed)


def load_model(args: argparse.Namespace):
    from .checkpoint import load_pretrained

    return load_pretrained(args.checkpoint, device=args.device, dtype=args.dtype,
                           understanding_encoder=getattr(args, "understanding_encoder", None))
