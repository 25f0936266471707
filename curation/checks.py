"""The cheap checks: everything about a row that needs no model, one small named check each.

A check looks at a `Candidate` (the row's task, prompt and resolved image cells) and returns its
reason when the row fails it, else None; it may add notes (a truncated prompt, a converted
image) and fill what it learned (the task folder, the prompt as judges read it, the image size).
A failed check makes the row an error with its reason, except a check with `rejects_as`, whose
failure rejects the row with that failure mode (the reason becomes a note) and which runs only
on rows no other check failed. The names of the failed checks travel with the row
(`schema.CHECKS`) and are counted per partition into the manifest and the run summary, as
datatrove's filters count what they drop and why.

`run_checks` runs `CHECKS` in order; the order fixes the order of the reasons in `error`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from . import schema as S
from .config import LimitsConfig
from .images import ImageRef, inspect_header

_SAFE_HIVE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


@dataclass
class Candidate:
    """What the checks read, and what they learn about the row."""

    task: Any
    prompt: Any
    image: ImageRef | None
    source_image: ImageRef | None
    limits: LimitsConfig
    notes: list[str] = field(default_factory=list)
    task_hive: str = S.INVALID_TASK_PARTITION
    """The task folder the row is written under (set by the `task` check)."""
    scored_prompt: str | None = None
    """The prompt as judges read it (set by the `prompt` check)."""
    image_width: int | None = None
    image_height: int | None = None


@dataclass(frozen=True)
class Check:
    """One named cheap check."""

    name: str
    run: Callable[[Candidate], "str | None"]
    """The reason the row fails, or None."""
    rejects_as: str | None = None
    """None: a failure is an error. A failure mode: a failure rejects the row with it (and the
    check runs only on rows no other check failed)."""


def check_task(c: Candidate) -> str | None:
    task = c.task
    if task is None or (isinstance(task, str) and not task.strip()):
        return "missing task (no task value and no --task default)"
    if str(task) not in S.TASKS:
        # The hive folder keeps the raw value when it is a safe folder name, so hive-aware
        # readers (which take the folder's value) still show it.
        c.task_hive = str(task) if _SAFE_HIVE.fullmatch(str(task)) else S.INVALID_TASK_PARTITION
        return f"unknown task {str(task)!r}: expected one of {', '.join(S.TASKS)}"
    c.task_hive = str(task)
    return None


def check_prompt(c: Candidate) -> str | None:
    prompt, limit = c.prompt, c.limits.max_prompt_chars
    if prompt is None:
        return "missing prompt"
    if not isinstance(prompt, str):
        return f"prompt is a {type(prompt).__name__}, not text"
    if not prompt.strip():
        return "empty prompt (only whitespace)"
    scored = prompt.strip()
    if len(scored) > limit:
        c.notes.append(f"prompt truncated from {len(scored)} to {limit} characters for scoring")
        scored = scored[:limit]
    c.scored_prompt = scored
    return None


def check_image(c: Candidate) -> str | None:
    ref = c.image
    if ref is None:
        return "missing image"
    if ref.error:
        return ref.error
    info = inspect_header(ref.data, c.limits.max_image_pixels)
    c.image_width, c.image_height = info.width, info.height
    c.notes.extend(info.notes)
    return info.error


def check_source_image(c: Candidate) -> str | None:
    """Edits need a readable source image; on a t2i row one is ignored (with a note)."""
    ref = c.source_image
    if c.task_hive == "t2i" and ref is not None:
        c.notes.append("source_image ignored on a t2i row")
    if c.task_hive != "edit":
        return None
    if ref is None:
        return "edit row has no source_image"
    if ref.error:
        return f"source_image: {ref.error}"
    info = inspect_header(ref.data, c.limits.max_image_pixels)
    c.notes.extend(f"source_image: {n}" for n in info.notes)
    return None if info.error is None else f"source_image: {info.error}"


def check_edit_changed(c: Candidate) -> str | None:
    """An edit whose output bytes equal its source did not edit anything."""
    if (c.task_hive == "edit" and c.image is not None and c.source_image is not None
            and c.image.data == c.source_image.data):
        return "edited image is byte-identical to the source image"
    return None


CHECKS: tuple[Check, ...] = (
    Check("task", check_task),
    Check("prompt", check_prompt),
    Check("image", check_image),
    Check("source_image", check_source_image),
    Check("edit_changed", check_edit_changed, rejects_as="edit_noncompliance"),
)
"""Every cheap check, in the order it runs."""

UNREADABLE = "readable"
"""Name counted for a row that could not be read at all (invalid JSON, unreadable record)."""


@dataclass
class CheckResult:
    errors: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """Names of the checks that failed."""


def run_checks(c: Candidate, checks: tuple[Check, ...] = CHECKS) -> CheckResult:
    """Run `checks` on `c` in order: errors (reasons), failure modes and the failed checks' names."""
    result = CheckResult()
    for check in checks:
        if check.rejects_as is not None and result.errors:
            continue
        reason = check.run(c)
        if reason is None:
            continue
        result.failed.append(check.name)
        if check.rejects_as is None:
            result.errors.append(reason)
        else:
            result.modes.append(check.rejects_as)
            c.notes.append(reason)
    return result
