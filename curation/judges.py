"""The judge registry: every fact about a scoring judge, written once.

Each judge is one `Judge` entry in `JUDGES`. From it the rest of the job derives:

- the config: one `StageConfig` section per judge (`img_reward.model`, `vqa.batch_size`, ...),
  and the defaults of `thresholds.sub_score_modes`, `.residual_modes` and `.vqa_modes`;
- the CLI: one `--<stage>-model` flag per judge (`curation/cli.py`);
- the scoring stages: which rows a judge scores (`tasks`), which prepared text it reads
  (`text_column`) and which scorer class runs it (`scorer`, looked up in `SCORERS`);
- the shard columns: `<stage>_score`, `<stage>_<sub-score>`, `<stage>_model_id`, ... where the
  sub-score names are the ones the scorer class declares (`sub_score_names`, a class attribute
  in `reward_models/`), each mapped here to the failure mode it stands for;
- the decision rule's mode attribution (`curation/decisions.py`);
- the audit views' stage columns and their long `scores` view, hence the score audits and the
  HTML report (`curation/audits/`).

Adding a judge is one entry here plus its scorer class (registered in `SCORERS`). This module
imports nothing heavy: the audits read it without torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from .schema import FAILURE_MODES, PROMPT_SCORED, TASKS, VQA_TEXT

SCORERS: Mapping[str, str] = MappingProxyType({
    "img_reward": "reward_models.img_reward.scorer:ImgRewardScorer",
    "edit_reward": "reward_models.edit_reward.scorer:EditRewardScorer",
    "vqascore": "reward_models.vqascore.native:NativeVQAScorer",
    "t2v_metrics": "reward_models.vqascore.t2v_backend:T2VMetricsVQAScorer",
})
"""Registered scorer name -> `module:Class` (imported only when used; the modules are heavy)."""


DEFAULT_MAX_PIXELS = 448 * 448
"""A judge stage's pixel budget unless its entry says otherwise (decode bound and scorer budget)."""


@dataclass(frozen=True)
class Judge:
    """One judge: a config section, a Ray Data stage and a group of shard columns."""

    stage: str
    """Config section, CLI flag (`--<stage>-model`) and output column prefix."""
    title: str
    """Human name (CLI help, docs)."""
    tasks: tuple[str, ...]
    """Tasks whose rows it scores."""
    scorer: str
    """Default scorer (a key of `SCORERS`); `<stage>.scorer` in the config picks another."""
    text_column: str
    """Prepared text column it reads (`schema.PROMPT_SCORED`: the prompt as scored, or
    `schema.VQA_TEXT`: the caption, or the target description on edits)."""
    role: str
    """`reward`: its score is the row's `reward_score` on its tasks and must be >=
    `thresholds.reward`; a low one is attributed through its sub-scores, else
    `residual_modes`. `check`: its score must be >= `thresholds.<threshold>`; a low one tags
    `low_score_modes` (overridable as `thresholds.<threshold>_modes` when that field exists)."""
    threshold: str
    """The `ThresholdConfig` field its score is held to (`reward` or `vqa`)."""
    sub_score_modes: Mapping[str, str] = field(default_factory=dict)
    """Sub-score (as the scorer names it) -> the failure mode a low value stands for. Must cover
    exactly the scorer's `sub_score_names` (tests/curation/test_judges.py checks it)."""
    low_score_modes: Mapping[str, str] = field(default_factory=dict)
    """check judges: task -> mode tagged when the score is below its threshold."""
    residual_modes: Mapping[str, str] = field(default_factory=dict)
    """reward judges: task -> mode when the score is low but no sub-score or check explains it."""
    model_help: str = ""
    """Help of its `--<stage>-model` flag."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """Default pixel budget of its stage (`<stage>.max_pixels`); 0: none, the scorer prepares
    images its own way (VQAScore: t2v-metrics' preprocessing, so its scores are the published metric)."""

    def __post_init__(self) -> None:
        if self.scorer not in SCORERS:
            raise ValueError(f"judge {self.stage}: unknown scorer {self.scorer!r} (known: {list(SCORERS)})")
        if self.role not in ("reward", "check"):
            raise ValueError(f"judge {self.stage}: role must be reward or check, not {self.role!r}")
        for what, modes in (("sub_score_modes", self.sub_score_modes), ("low_score_modes", self.low_score_modes),
                            ("residual_modes", self.residual_modes)):
            bad = {k: m for k, m in modes.items() if m not in FAILURE_MODES}
            if bad:
                raise ValueError(f"judge {self.stage}: {what} {bad} not in {FAILURE_MODES}")

    @property
    def flag(self) -> str:
        return f"--{self.stage.replace('_', '-')}-model"

    def column(self, name: str) -> str:
        """`<stage>_<name>`: the judge's output column (`score`, a sub-score, `model_id`, ...)."""
        return f"{self.stage}_{name}"

    @property
    def sub_score_columns(self) -> dict[str, str]:
        """Sub-score column -> failure mode."""
        return {self.column(s): m for s, m in self.sub_score_modes.items()}


JUDGES: tuple[Judge, ...] = (
    Judge(
        stage="img_reward", title="ImgReward", tasks=("t2i",), scorer="img_reward", text_column=PROMPT_SCORED,
        role="reward", threshold="reward",
        sub_score_modes={"alignment": "instruction_alignment", "fidelity": "visual_artifacts",
                         "integrity": "semantic_inconsistency"},
        residual_modes={"t2i": "semantic_inconsistency"},
        model_help="ImgReward checkpoint (folder or hub id)",
    ),
    Judge(
        stage="edit_reward", title="EditReward", tasks=("edit",), scorer="edit_reward", text_column=PROMPT_SCORED,
        role="reward", threshold="reward",
        sub_score_modes={"compliance": "edit_noncompliance", "consistency": "semantic_inconsistency",
                         "quality": "visual_artifacts"},
        residual_modes={"edit": "edit_noncompliance"},
        model_help="EditReward checkpoint (folder or hub id)",
    ),
    Judge(
        # On an edit VQAScore asks whether the output shows the target description, so a low
        # score means the edit was not carried out.
        stage="vqa", title="VQAScore", tasks=("t2i", "edit"), scorer="vqascore", text_column=VQA_TEXT,
        role="check", threshold="vqa",
        low_score_modes={"t2i": "instruction_alignment", "edit": "edit_noncompliance"},
        model_help="VQAScore checkpoint for the native backend (may equal a reward model's)",
        max_pixels=0,
    ),
)
"""Every judge, in stage order."""

BY_STAGE: Mapping[str, Judge] = MappingProxyType({j.stage: j for j in JUDGES})
STAGES: tuple[str, ...] = tuple(BY_STAGE)


def get(stage: str) -> Judge:
    try:
        return BY_STAGE[stage]
    except KeyError:
        raise KeyError(f"no judge {stage!r}; judges: {', '.join(STAGES)}") from None


def reward_judge(task: str | None) -> Judge | None:
    """The judge whose score is `reward_score` on `task` (at most one per task)."""
    return _REWARD_BY_TASK.get(task)


def check_judges(task: str | None) -> list[Judge]:
    return [j for j in JUDGES if j.role == "check" and task in j.tasks]


def sub_score_modes() -> dict[str, str]:
    """Every sub-score column -> its failure mode (the default of `thresholds.sub_score_modes`)."""
    return {c: m for j in JUDGES for c, m in j.sub_score_columns.items()}


def residual_modes() -> dict[str, str]:
    return {t: m for j in JUDGES if j.role == "reward" for t, m in j.residual_modes.items()}


def score_names() -> list[str]:
    """The scores audits and the report show, in order: `reward` (the task's reward judge), each
    check judge's score (by stage name), then every sub-score column."""
    return ["reward", *(j.stage for j in JUDGES if j.role == "check"), *sub_score_modes()]


def scorer_class(name: str):
    """The class behind a registered scorer name (imported here, lazily)."""
    try:
        module, _, attr = SCORERS[name].partition(":")
    except KeyError:
        raise ValueError(f"unknown scorer {name!r}: use {', '.join(SCORERS)}") from None
    return getattr(importlib.import_module(module), attr)


def _reward_by_task() -> dict[str, Judge]:
    out: dict[str, Judge] = {}
    for j in JUDGES:
        unknown = set(j.tasks) - set(TASKS)
        if unknown:
            raise ValueError(f"judge {j.stage}: unknown task(s) {sorted(unknown)}")
        if j.role != "reward":
            continue
        for t in j.tasks:
            if t in out:
                raise ValueError(f"task {t!r} has two reward judges: {out[t].stage} and {j.stage}")
            out[t] = j
    return out


_REWARD_BY_TASK = _reward_by_task()
