"""One progress bar per job stage: rows done of total, rows/s, ETA.

On a terminal the bar is redrawn in place (one line per stage); elsewhere (CI logs, pipes) a
line is written at most every `every_s` seconds and once when the stage ends, so a log stays short.
"""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class StageBar:
    def __init__(self, name: str, total: int, *, stream=None, every_s: float = 30.0, enabled: bool = True):
        self.name, self.total, self.done = name, max(0, int(total)), 0
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s, self.enabled = every_s, enabled
        self.t0 = self.last = time.time()
        self.shown = -1  # rows at the last line written (non-terminal streams)

    def line(self) -> str:
        elapsed = time.time() - self.t0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        frac = self.done / self.total if self.total else 1.0
        width = 24
        fill = int(width * min(1.0, frac))
        eta = _clock((self.total - self.done) / rate) if rate > 0 and self.done < self.total else "--:--"
        return (f"{self.name:<8} [{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} rows "
                f"{rate:.1f} rows/s  elapsed {_clock(elapsed)}  eta {eta}")

    def update(self, rows: int) -> None:
        self.done += int(rows)
        if not self.enabled:
            return
        now = time.time()
        if self.tty:
            self.stream.write("\r" + self.line())
            self.stream.flush()
        elif now - self.last >= self.every_s:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self.last, self.shown = now, self.done

    def close(self) -> None:
        if not self.enabled or (not self.tty and self.shown == self.done):
            return
        self.stream.write(("\r" if self.tty else "") + self.line() + "\n")
        self.stream.flush()
