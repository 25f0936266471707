"""Text-to-image from a UniPic checkpoint folder.

    python -m unipic.generate CHECKPOINT --prompt "a red fox in snow" [--prompt ...] \
        [--prompts-file prompts.txt] --out DIR [--num-iter 64 --guidance 3.0 --seed 0 ...]

Writes DIR/00000.png, ... (one per prompt, in order) and DIR/manifest.jsonl with each
prompt, file and seed. Batch b uses seed + b, so a rerun reproduces every image.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from .cli_common import add_model_args, add_sampling_args, load_model, sample_options


def read_prompts(args: argparse.Namespace) -> list[str]:
    prompts = list(args.prompt or [])
    if args.prompts_file:
        for line in Path(args.prompts_file).read_text().splitlines():
            line = line.strip()
            if line:
                prompts.append(json.loads(line)["prompt"] if line.startswith("{") else line)
    if not prompts:
        raise SystemExit("give --prompt or --prompts-file")
    return prompts


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(prog="python -m unipic.generate", description=__doc__.split("\n")[0])
    add_model_args(parser)
    parser.add_argument("--prompt", action="append", help="a prompt (repeatable)")
    parser.add_argument("--prompts-file", help="text file, one prompt per line (or JSON lines with a 'prompt' field)")
    parser.add_argument("--out", required=True, help="output folder")
    add_sampling_args(parser)
    args = parser.parse_args(argv)

    from .images import to_pil
    from .sampling import generate_images

    prompts = read_prompts(args)
    model = load_model(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with open(out / "manifest.jsonl", "w") as manifest:
        for b, start in enumerate(range(0, len(prompts), args.batch_size)):
            chunk = prompts[start:start + args.batch_size]
            options = sample_options(args, seed=args.seed + b)
            for i, (prompt, image) in enumerate(zip(chunk, to_pil(generate_images(model, chunk, options)))):
                path = out / f"{start + i:05d}.png"
                image.save(path)
                written.append(path)
                manifest.write(json.dumps({"file": path.name, "prompt": prompt, "options": asdict(options)}) + "\n")
    print(f"wrote {len(written)} images to {out}")
    return written


if __name__ == "__main__":
    main()
