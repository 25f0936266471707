"""What `pipelines/score.py` prints: a bar per stage and the summary, not Ray's own logs (which
`--verbose` shows)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.progress import StageBar

from .inputs_factory import png

REPO = Path(__file__).resolve().parents[2]


def _run(inp: Path, out: Path, judges: dict, *extra: str) -> list[str]:
    cmd = [sys.executable, str(REPO / "pipelines" / "score.py"), "--input", str(inp), "--output", str(out),
           "--img-reward-model", judges["img_reward"], "--edit-reward-model", judges["edit_reward"],
           "--vqa-model", judges["vqa"], "--rows-per-partition", "6", "--max-pixels", "4096", "--num-cpus", "2",
           *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_DATA_")}  # Ray Data's defaults
    env["RAY_AUTH_MODE"] = "token"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=out.parent, timeout=280)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return (proc.stdout + proc.stderr).splitlines()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_stage_bar_in_a_log_writes_few_lines_and_on_a_terminal_redraws_one():
    log = io.StringIO()
    bar = StageBar("score", 12, stream=log, every_s=3600)
    for _ in range(4):
        bar.update(3)
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("score ") and "12/12 rows" in lines[0] and "rows/s" in lines[0]

    log = io.StringIO()
    bar = StageBar("score", 12, stream=log, every_s=0)  # a line per update, none repeated at the end
    for _ in range(4):
        bar.update(3)
    bar.close()
    lines = log.getvalue().splitlines()
    assert [line.split("]")[1].split(" rows")[0].strip() for line in lines] == ["3/12", "6/12", "9/12", "12/12"]
    assert "eta" in lines[0] and "eta --:--" not in lines[0]  # an estimate while rows remain

    tty = _Tty()
    bar = StageBar("index", 12, stream=tty)
    bar.update(6)
    bar.update(6)
    bar.close()
    assert tty.getvalue().count("\n") == 1 and tty.getvalue().count("\r") == 3  # one line, redrawn

    quiet = io.StringIO()
    bar = StageBar("score", 12, stream=quiet, every_s=0, enabled=False)
    bar.update(12)
    bar.close()
    assert quiet.getvalue() == ""


@pytest.mark.timeout(600)
@pytest.mark.slow  # two runs of the job in their own processes (~2 min on a busy 2-core machine)
def test_console_shows_bars_and_summary_and_verbose_shows_ray_logs(tmp_path, judges):
    inp = tmp_path / "input"
    inp.mkdir()
    rows = [{"sample_id": f"s{i:02d}", "task": "t2i" if i % 3 else "edit", "prompt": f"picture {i}",
             "image": {"bytes": png(i), "path": None},
             "source_image": None if i % 3 else {"bytes": png(100 + i), "path": None}} for i in range(12)]
    pq.write_table(pa.Table.from_pylist(rows), inp / "candidates.parquet")

    quiet = _run(inp, tmp_path / "quiet", judges)
    text = "\n".join(quiet)
    assert len(quiet) < 40, text
    assert any(line.startswith("index ") and "12/12 rows" in line for line in quiet), text
    assert any(line.startswith("score ") and "12/12 rows" in line and "rows/s" in line for line in quiet), text
    assert any(line.startswith("rows: 12 ") for line in quiet), text  # the summary
    assert any(line.startswith("shards: ") for line in quiet), text
    for ray_log in ("logging_progress", "streaming_executor", "Loading weights", "pid="):
        assert ray_log not in text, ray_log

    verbose = _run(inp, tmp_path / "verbose", judges, "--verbose")
    vtext = "\n".join(verbose)
    assert "streaming_executor" in vtext and "pid=" in vtext, vtext[-3000:]  # Ray Data's logs, worker output
    assert len(verbose) > len(quiet) + 10
    assert any(line.startswith("rows: 12 ") for line in verbose)
