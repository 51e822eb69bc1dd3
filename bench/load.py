"""Drive a server with wrk (in its own process) and read the result its Lua `done` prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.progress import Countdown

LUA_DIR = Path(__file__).resolve().parent / "lua"
WRK_HELP = (
    "wrk is not installed. On Debian or Ubuntu: sudo apt-get install wrk "
    "(https://github.com/wg/wrk for other systems)."
)


def find_wrk() -> str:
    """The wrk binary, or exit saying how to install it."""
    found = shutil.which("wrk")
    if not found:
        raise SystemExit(f"error: {WRK_HELP}")
    return found


def wrk_version(wrk: str) -> str:
    """wrk's version line."""
    completed = subprocess.run(  # noqa: S603 (the wrk found on PATH)
        [wrk, "--version"], capture_output=True, text=True, check=False
    )
    line = (completed.stdout or completed.stderr).splitlines()[0]
    return line.split(" [")[0].removeprefix("wrk ")


@dataclass(frozen=True)
class Load:
    """How hard and how long to push."""

    connections: int
    seconds: float
    threads: int
    timeout: float


def run_wrk(
    wrk: str, base_url: str, script: str, load: Load, env: dict[str, str], countdown: Countdown
) -> dict:
    """Run one wrk load and return its JSON result (plus wrk's own text output)."""
    if not base_url.startswith("http://127.0.0.1:"):
        raise ValueError("the bench only loads servers on 127.0.0.1")
    argv = [
        wrk,
        f"-t{min(load.threads, load.connections)}",
        f"-c{load.connections}",
        # wrk takes whole seconds.
        f"-d{max(round(load.seconds), 1)}s",
        f"--timeout={max(round(load.timeout), 1)}s",
        "-s",
        str(LUA_DIR / f"{script}.lua"),
        base_url,
    ]
    process = subprocess.Popen(  # noqa: S603 (wrk with our arguments)
        argv,
        env={**os.environ, "BENCH_LUA_DIR": str(LUA_DIR), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        while process.poll() is None:
            countdown.tick()
            time.sleep(1 if countdown.interactive else 0.2)
    finally:
        if process.poll() is None:  # the bench was interrupted: stop the load too
            process.terminate()
            process.wait()
    output = process.stdout.read() if process.stdout else ""
    result = None
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            result = json.loads(line.removeprefix("BENCH_JSON "))
    if process.returncode != 0 or result is None:
        raise SystemExit(f"error: wrk failed ({process.returncode}):\n{output}")
    result["wrk_output"] = output
    return result
