"""Image understanding (image + question -> text) from a UniPic checkpoint folder.

    python -m unipic.describe CHECKPOINT --image photo.png [--image ...] \
        [--question "What is in the picture?"] [--sample --temperature 0.7] [--out answers.jsonl]

Prints one JSON line per image ({"image", "question", "answer"}) and optionally writes them
to --out. Decoding is greedy unless --sample. The image goes through the encoder the checkpoint
names (`understanding_encoder`; a converted published checkpoint names 'mar', the published
path) unless --understanding-encoder overrides it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .cli_common import add_model_args, add_understanding_args, load_model
from .prompts import DEFAULT_QUESTION


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m unipic.describe", description=__doc__.split("\n")[0])
    add_model_args(parser)
    add_understanding_args(parser)
    parser.add_argument("--image", action="append", required=True, help="image file (repeatable)")
    parser.add_argument("--question", default=DEFAULT_QUESTION, help="question asked about every image")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", help="JSON-lines file for the answers")
    args = parser.parse_args(argv)

    from PIL import Image

    from .understanding import describe_images

    model = load_model(args)
    rows = []
    for start in range(0, len(args.image), args.batch_size):
        paths = args.image[start:start + args.batch_size]
        answers = describe_images(model, [Image.open(p) for p in paths], [args.question] * len(paths),
                                  max_new_tokens=args.max_new_tokens, do_sample=args.sample,
                                  temperature=args.temperature, top_p=args.top_p, seed=args.seed)
        rows += [{"image": str(p), "question": args.question, "answer": a} for p, a in zip(paths, answers)]
    lines = [json.dumps(r) for r in rows]
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    return rows


if __name__ == "__main__":
    main()
