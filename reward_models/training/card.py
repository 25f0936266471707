"""Saving a judge folder: checkpoint + processor + `reward_model.json` + `README.md` model card."""

from __future__ import annotations

import json
import os
from pathlib import Path

from reward_models.judging.layout import JudgeLayout, save_layout


def save_judge(folder: str | os.PathLike, model, processor, layout: JudgeLayout, *, title: str,
               evaluation: dict | None = None, training: dict | None = None, notes: str = "") -> Path:
    """Write everything a scorer needs to load this judge with `from_pretrained`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if model is not None:
        model.save_pretrained(folder, safe_serialization=True)
    if processor is not None:
        processor.save_pretrained(folder)
    save_layout(folder, layout, evaluation=evaluation or {}, training=_jsonable(training or {}))
    (folder / "README.md").write_text(model_card(title, layout, evaluation or {}, training or {}, notes))
    return folder


def _jsonable(x):
    return json.loads(json.dumps(x, default=str))


def _table(rows: list[tuple], header: tuple) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def model_card(title: str, layout: JudgeLayout, evaluation: dict, training: dict, notes: str = "") -> str:
    """Markdown card: what the judge reads, how it scores, its held-out accuracy and how it was trained."""
    parts = [f"# {title}", "", notes.strip(), "",
             "## Readout",
             f"- kind: `{layout.kind}`, readout version {layout.readout_version}",
             f"- aspects: {', '.join(f'`{a}`' for a in layout.aspects)}; overall score = `{layout.score_aspect}`",
             f"- answer tokens: {layout.answer_tokens} with values {[round(v, 3) for v in layout.answer_values]}",
             "- score = expected value of the answer-token distribution after the teacher-forced prefix "
             f"`{layout.readout_prefix()}`, all aspects in one forward pass (see reward_model.json)", ""]
    parts += ["## Held-out evaluation", ""]
    if not evaluation:
        parts += ["Not evaluated (untrained or built for tests).", ""]
    for name, table in evaluation.items():
        if isinstance(table, dict) and table and all(isinstance(v, dict) for v in table.values()):
            # Columns in first-seen order (before -> after), not alphabetical.
            cols = list(dict.fromkeys(k for v in table.values() for k in v))
            parts += [f"### {name}", "", _table([(k, *[_fmt(v.get(c)) for c in cols]) for k, v in table.items()],
                                                 (name.split()[0] if name else "", *cols)), ""]
        else:
            parts += [f"- {name}: {_fmt(table)}"]
    parts += ["", "## Training", "", "```json", json.dumps(_jsonable(training), indent=2), "```", ""]
    return "\n".join(parts)


def _fmt(v):
    return f"{v:.4f}" if isinstance(v, float) else str(v)
