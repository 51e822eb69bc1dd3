"""Progress on the terminal: a bar for long steps, a countdown for timed runs.

On a terminal the line is redrawn in place; in a log (CI) only a few milestones are printed.
"""

from __future__ import annotations

import sys
import time

BAR_WIDTH = 30


def say(message: str) -> None:
    """One line of progress."""
    print(message, file=sys.stderr, flush=True)


class Bar:
    """A progress bar for `total` units of work."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.started = time.perf_counter()
        self.interactive = sys.stderr.isatty()
        self._last_quarter = -1
        self._draw()

    def advance(self, units: int) -> None:
        """Count `units` more as done."""
        self.done = min(self.done + units, self.total)
        self._draw()

    def finish(self) -> None:
        """Draw the full bar and end the line."""
        self.done = self.total
        self._draw(final=True)

    def _draw(self, final: bool = False) -> None:
        fraction = self.done / self.total
        elapsed = time.perf_counter() - self.started
        filled = round(fraction * BAR_WIDTH)
        line = (
            f"  {self.label:<22} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%} "
            f"{self.done:>11,}/{self.total:,}  {elapsed:5.1f} s"
        )
        if self.interactive:
            print(f"\r{line}", end="\n" if final else "", file=sys.stderr, flush=True)
            return
        quarter = int(fraction * 4)
        if final or quarter > self._last_quarter:
            self._last_quarter = quarter
            if final or quarter < 4:
                print(line, file=sys.stderr, flush=True)


class Countdown:
    """A one-line status for a timed run, redrawn every second on a terminal."""

    def __init__(self, label: str, seconds: float) -> None:
        self.label = label
        self.seconds = seconds
        self.started = time.perf_counter()
        self.interactive = sys.stderr.isatty()
        if not self.interactive:
            print(f"  {label} ({seconds:g} s) ...", file=sys.stderr, flush=True)

    def tick(self) -> None:
        """Redraw the remaining time."""
        if not self.interactive:
            return
        elapsed = time.perf_counter() - self.started
        remaining = max(self.seconds - elapsed, 0)
        filled = round(min(elapsed / self.seconds, 1) * BAR_WIDTH) if self.seconds else BAR_WIDTH
        print(
            f"\r  {self.label:<34} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
            f"{remaining:4.0f} s left ",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def finish(self, summary: str) -> None:
        """Replace the status with the run's one-line result."""
        if self.interactive:
            print(f"\r\033[K  {self.label:<34} {summary}", file=sys.stderr, flush=True)
        else:
            print(f"    {summary}", file=sys.stderr, flush=True)
