"""Instruction-based image editing from a UniPic checkpoint folder.

    python -m unipic.edit CHECKPOINT --image photo.png --instruction "make the sky pink" \
        [--image b.png --instruction "..."] --out DIR [--num-iter 64 --guidance 3.0 ...]

Each source is centre-cropped to a square and resized to --image-size (default: the
config's). Writes DIR/<source stem>_edit.png per pair and DIR/manifest.jsonl.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from .cli_common import add_model_args, add_sampling_args, load_model, sample_options


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(prog="python -m unipic.edit", description=__doc__.split("\n")[0])
    add_model_args(parser)
    parser.add_argument("--image", action="append", required=True, help="source image (repeatable)")
    parser.add_argument("--instruction", action="append", required=True, help="edit instruction, one per --image")
    parser.add_argument("--out", required=True, help="output folder")
    add_sampling_args(parser)
    args = parser.parse_args(argv)
    if len(args.image) != len(args.instruction):
        raise SystemExit("give one --instruction per --image")

    from PIL import Image

    from .images import to_pil, to_tensor
    from .sampling import edit_images

    model = load_model(args)
    size = args.image_size or model.config.image_size
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with open(out / "manifest.jsonl", "w") as manifest:
        for b, start in enumerate(range(0, len(args.image), args.batch_size)):
            paths = args.image[start:start + args.batch_size]
            instructions = args.instruction[start:start + args.batch_size]
            sources = to_tensor([Image.open(p) for p in paths], size, frame="crop")
            options = sample_options(args, seed=args.seed + b)
            edited = to_pil(edit_images(model, sources, instructions, options))
            for src, text, image in zip(paths, instructions, edited):
                path = out / f"{Path(src).stem}_edit.png"
                image.save(path)
                written.append(path)
                manifest.write(json.dumps({"file": path.name, "source": str(src), "instruction": text,
                                           "options": asdict(options)}) + "\n")
    print(f"wrote {len(written)} images to {out}")
    return written


if __name__ == "__main__":
    main()
