"""Per-step metrics: a JSONL log, a progress bar and (if installed) TensorBoard."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class MetricsLogger:
    """Writes one JSON line per step to `metrics.jsonl`; shows a tqdm bar; mirrors to TensorBoard.

    Only rank 0 logs (`enabled=False` elsewhere). On resume from step s, lines after s
    (written by the killed run after its last checkpoint) are dropped, so the file is one
    clean curve.
    """

    def __init__(self, folder: str | os.PathLike, total_steps: int, start_step: int = 0, enabled: bool = True,
                 progress: bool = True, tensorboard: bool = False):
        self.enabled = enabled
        self.path = Path(folder) / "metrics.jsonl"
        self.bar = None
        self.tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._truncate_after(start_step)
        self.file = self.path.open("a")
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, desc="train", file=sys.stderr,
                            dynamic_ncols=True, mininterval=1.0)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(Path(folder) / "tensorboard"))
            except ImportError:
                log.warning("--tensorboard given but the tensorboard package is not installed; logging JSONL only")

    def _truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"step": step, **metrics}
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            shown = {k: metrics[k] for k in ("loss", "loss_t2i", "loss_edit", "loss_und", "lr") if k in metrics}
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in shown.items()}, refresh=False)
        if self.tb is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if not self.enabled:
            return
        self.file.close()
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()


def read_metrics(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of `folder/metrics.jsonl` (empty if absent)."""
    path = Path(folder) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
