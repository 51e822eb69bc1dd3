"""The long schemathesis run (not in CI): tests/test_fuzz.py round after round, each with a
fresh Hypothesis seed and many more examples than CI's, until the time is up.

    python -m bench.fuzz --minutes 10      (or: make fuzz-long)

Prints one line per round and the totals that docs/security.md records. Each round loads this
module into pytest as a plugin too, to count the requests the app answered by status class.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

ANSWERED = Counter()
"""Requests the app answered in this pytest process, by status class (plugin side)."""


class _CountRequests(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        ANSWERED[f"{str(getattr(record, 'status', 0))[0]}xx"] += 1


def pytest_configure(config) -> None:
    """Count each request line the app logs."""
    logging.getLogger("inventory.requests").addHandler(_CountRequests())


def pytest_terminal_summary(terminalreporter) -> None:
    """Report the counts for the runner to read."""
    for status_class, count in sorted(ANSWERED.items()):
        terminalreporter.write_line(f"answered {count} {status_class}")


def _count(pattern: str, text: str) -> int:
    return sum(int(found) for found in re.findall(pattern, text))


def run_round(seed: int, examples: int, sequences: int) -> dict[str, int | float]:
    """One pytest run of the fuzz tests with `seed`; its numbers."""
    env = {
        **os.environ,
        "FUZZ_EXAMPLES": str(examples),
        "FUZZ_SEQUENCES": str(sequences),
        "FUZZ_SEED": str(seed),
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "bench.fuzz",
        "tests/test_fuzz.py",
        f"--hypothesis-seed={seed}",
    ]
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603 (our own pytest)
    output = result.stdout + result.stderr
    if result.returncode not in (0, 1):
        sys.exit(f"pytest could not run (exit {result.returncode}):\n{output[-3000:]}")
    if result.returncode == 1:
        failures = output[output.find("= FAILURES =") :].splitlines()
        print("\n".join(line[:300] for line in failures[:200]), file=sys.stderr)
    return {
        "seconds": time.monotonic() - started,
        "tests passed": _count(r"(\d+) passed", output),
        "tests failed": _count(r"(\d+) failed", output),
        "requests": _count(r"answered (\d+) \dxx", output),
        **{
            f"{status_class} answers": _count(rf"answered (\d+) {status_class}", output)
            for status_class in ("2xx", "4xx", "5xx")
        },
    }


def main() -> None:
    """Run rounds until --minutes have passed; exit 1 if any round found a failure."""
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--examples", type=int, default=30, help="per operation and role")
    parser.add_argument("--sequences", type=int, default=40, help="stateful, per role")
    args = parser.parse_args()
    print(f"started {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    totals: dict[str, float] = {}
    seed, deadline = 0, time.monotonic() + args.minutes * 60
    while time.monotonic() < deadline:
        seed += 1
        numbers = run_round(seed, args.examples, args.sequences)
        print(f"round {seed}: " + ", ".join(f"{v:.0f} {k}" for k, v in numbers.items()), flush=True)
        for name, value in numbers.items():
            totals[name] = totals.get(name, 0) + value
    print(f"finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC after {seed} rounds: ", end="")
    print(", ".join(f"{value:.0f} {name}" for name, value in totals.items()))
    sys.exit(1 if totals.get("tests failed") else 0)


if __name__ == "__main__":
    main()
