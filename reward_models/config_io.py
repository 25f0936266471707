"""Typed dataclass configs from plain data (YAML, JSON, flags): the one loader the job's config
(`curation.config`) and the UniPic model config (`unipic.config`) share.

It lives in the lowest package so that both may import it. Nested dataclasses are rebuilt from
mappings, values are converted to each field's annotation (str -> int/float/bool/list/dict/tuple,
`Literal` checked, `X | None`), and unknown keys are refused with the keys that are known.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any


class UnknownConfigKeys(KeyError, ValueError):
    """A mapping names fields the dataclass does not have (a KeyError and a ValueError, as callers
    of either loader it replaces caught one or the other)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def from_dict(cls: type, data: Any, where: str | None = None) -> Any:
    """An instance of dataclass `cls` from mapping `data` (missing fields keep their defaults)."""
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise TypeError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise UnknownConfigKeys(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    return cls(**{name: coerce(value, hints[name], f"{where}.{name}") for name, value in data.items()})


def coerce(value: Any, tp: Any, where: str) -> Any:
    """`value` as the annotated type `tp` (strings from flags are parsed; lists become tuples where
    the field is a tuple). Raises ValueError or TypeError naming `where`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args):
            return None
        errors = []
        for a in (a for a in args if a is not type(None)):
            try:
                return coerce(value, a, where)
            except (TypeError, ValueError) as e:
                errors.append(str(e))
        raise ValueError(f"{where}: cannot read {value!r} as {tp}: {errors}")
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{where}: expected a boolean, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected {tp.__name__}, got {value!r}")
        return tp(value)
    if tp is str:
        if not isinstance(value, (str, int, float)):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if origin is list:
            return [coerce(v, args[0], where) for v in value]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], where) for v in value)
        if args and len(args) != len(value):
            raise ValueError(f"{where}: expected {len(args)} items, got {value!r}")
        return tuple(coerce(v, a, where) for v, a in zip(value, args)) if args else tuple(value)
    if origin is dict:
        if isinstance(value, str):
            value = dict(kv.split("=", 1) for kv in value.split(",") if kv)
        return {str(k): coerce(v, args[1], where) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    return value
