"""The one dict-to-dataclass loader (curation's job config and UniPic's model config use it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from reward_models.config_io import UnknownConfigKeys, coerce, from_dict


@dataclass
class Inner:
    size: int = 1
    kind: Literal["a", "b"] = "a"


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    maybe: Inner | None = None
    mult: tuple[int, ...] = (1, 2)
    names: list[str] = field(default_factory=list)
    flag: bool = False
    rate: float = 0.5


def test_round_trip_nested_optional_tuples_and_strings_from_flags():
    got = from_dict(Outer, {"inner": {"size": "3", "kind": "b"}, "maybe": {"size": 2}, "mult": [1, 1, 4],
                            "names": "x,y", "flag": "yes", "rate": 1})
    assert got == Outer(Inner(3, "b"), Inner(2), (1, 1, 4), ["x", "y"], True, 1.0)
    assert from_dict(Outer, {"maybe": None}).maybe is None
    assert coerce("none", Inner | None, "x") is None


def test_bad_input_is_refused_with_where_it_was():
    with pytest.raises(UnknownConfigKeys, match=r"Outer.inner: unknown keys \['sise'\]") as e:
        from_dict(Outer, {"inner": {"sise": 2}})
    assert isinstance(e.value, KeyError) and isinstance(e.value, ValueError)
    with pytest.raises(ValueError, match="not one of"):
        from_dict(Outer, {"inner": {"kind": "c"}})
    with pytest.raises(ValueError, match="expected a boolean"):
        from_dict(Outer, {"flag": "maybe"})
    with pytest.raises(ValueError, match="expected int"):
        from_dict(Outer, {"inner": {"size": True}})
    with pytest.raises(TypeError, match="expected a mapping"):
        from_dict(Outer, [1])
