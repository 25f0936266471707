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


# ---------------------------------------------------------------------- flags from a config dataclass
def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of dataclass `cls` (read from its source), one line each."""
    import ast
    import inspect
    import textwrap

    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs = {}
    for stmt, nxt in zip(body, body[1:]):
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
            docs[stmt.target.id] = " ".join(nxt.value.value.split())
    return docs


def _parser_type(tp, flag: str):
    """An argparse `type` that reads one flag value as annotation `tp` through the shared loader."""
    from reward_models.config_io import coerce

    def read(text: str):
        return coerce(text, tp, flag)

    read.__name__ = getattr(tp, "__name__", str(tp))  # argparse names it in "invalid <type> value"
    return read


def add_dataclass_flags(parser, cls: type, overrides: dict[str, dict] | None = None) -> list[str]:
    """One flag per field of dataclass `cls`, its help the field's docstring and its default.

    `--field-name VALUE` (read as the field's annotation by `reward_models.config_io.coerce`; a
    `Literal` becomes the choices), `--field-name V [V ...]` for lists, `--field-name` for a bool
    that defaults to False and `--no-field-name` for one that defaults to True. Flags not given are
    absent from the namespace, so `dataclass_from_flags` keeps the dataclass's defaults.
    `overrides` adds or replaces `add_argument` keywords per field. Returns the field names.
    """
    import dataclasses
    import types
    import typing

    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    overrides = overrides or {}
    names = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        flag = "--" + f.name.replace("_", "-")
        help_text = docs.get(f.name, "").replace("%", "%%")
        kw: dict = {"dest": f.name, "default": argparse.SUPPRESS}
        if tp is bool:
            if default:
                flag = "--no-" + f.name.replace("_", "-")
                help_text = f"turn off: {help_text}"
            kw.update(action="store_false" if default else "store_true", help=help_text)
        else:
            inner = tp
            if typing.get_origin(tp) in (typing.Union, types.UnionType):  # X | None -> X; None stays the default
                args = [a for a in typing.get_args(tp) if a is not type(None)]
                inner = args[0] if len(args) == 1 else tp
            if typing.get_origin(inner) is list:
                kw.update(nargs="*", type=_parser_type(typing.get_args(inner)[0], flag))
            elif typing.get_origin(inner) is typing.Literal:
                kw.update(choices=list(typing.get_args(inner)))
            else:
                kw.update(type=_parser_type(tp, flag))
            shown = default not in (None, []) and f" (default: {default})".replace("%", "%%")
            kw["help"] = help_text + (shown or "")
        kw.update(overrides.get(f.name, {}))
        parser.add_argument(flag, **kw)
        names.append(f.name)
    return names


def dataclass_from_flags(cls: type, args: argparse.Namespace, **changes):
    """An instance of dataclass `cls` from the flags `add_dataclass_flags` added and were given
    (others keep their defaults), with `changes` applied; through the shared loader."""
    import dataclasses

    from reward_models.config_io import from_dict

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    return from_dict(cls, {**given, **changes})
