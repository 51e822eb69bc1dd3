"""The servers under test: start, wait until ready, sample the workers' memory, scrape, stop.

Both the API and the ceiling listen on 127.0.0.1 only, on a free port picked at start.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.balancer import Balancer

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
METRICS_TOKEN = secrets.token_urlsafe(32)
"""The API's /metrics token for this bench process (production wants one)."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def http(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, bytes]:
    """One request to a local server; the status and the body (errors too)."""
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError(f"the bench only talks to {HOST}: {url}")
    # Only http://127.0.0.1 gets here (checked above): no file: or other schemes.
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _shares(used: dict[int, float]) -> list[float]:
    """Each worker's share of the CPU time used, largest first."""
    total = sum(used.values())
    return sorted((value / total for value in used.values()), reverse=True) if total else []


class WorkerMemory:
    """Samples the resident memory of a server's worker processes in a background thread, and
    tells how evenly a run's work was spread over them."""

    def __init__(self, parent: psutil.Process, interval: float = 0.5) -> None:
        self.parent = parent
        self.interval = interval
        self.peak_by_pid: dict[int, int] = {}
        self.window_peak = 0
        self._cpu_at_start: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def workers(self) -> list[psutil.Process]:
        """The worker processes (uvicorn spawns them with multiprocessing)."""
        found = []
        try:
            children = self.parent.children(recursive=True)
        except psutil.NoSuchProcess:
            return found
        for child in children:
            try:
                if "spawn_main" in " ".join(child.cmdline()):
                    found.append(child)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found

    def sample(self) -> None:
        """Record the current resident memory of every worker."""
        for worker in self.workers():
            try:
                rss = worker.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            self.peak_by_pid[worker.pid] = max(self.peak_by_pid.get(worker.pid, 0), rss)
            self.window_peak = max(self.window_peak, rss)

    def start_window(self) -> None:
        """Start measuring a new peak and the CPU time of each worker (for one run)."""
        self.window_peak = 0
        self._cpu_at_start = self._cpu_by_pid()

    def cpu_used(self) -> dict[int, float]:
        """The CPU seconds each worker used since `start_window`."""
        now = self._cpu_by_pid()
        return {pid: now[pid] - self._cpu_at_start.get(pid, 0.0) for pid in now}

    def cpu_shares(self) -> list[float]:
        """Each worker's share of the CPU time its server used since `start_window`."""
        return _shares(self.cpu_used())

    def _cpu_by_pid(self) -> dict[int, float]:
        times = {}
        for worker in self.workers():
            try:
                cpu = worker.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            times[worker.pid] = cpu.user + cpu.system
        return times

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()


class Server:
    """A server process group started by the bench, with its log in a file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        port: int,
        log: Path,
        ready_path: str = "/health",
    ) -> None:
        self.name = name
        self.ready_path = ready_path
        self.argv = argv
        self.env = env
        self.port = port
        self.log_path = log
        self.base_url = f"http://{HOST}:{port}"
        self.metrics_urls = [self.base_url]
        self.process: subprocess.Popen | None = None
        self.memory: WorkerMemory | None = None

    def start(self, expected_workers: int, timeout: float = 120) -> None:
        """Start the server and wait until every worker answers."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.memory = WorkerMemory(psutil.Process(self.process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"error: the {self.name} server exited with {self.process.returncode}; "
                    f"its log: {self.log_path}\n{self._log_tail()}"
                )
            # Every worker has to be up, not only the first: ask a few more times.
            if len(self.memory.workers()) >= expected_workers and all(
                self._answers() for _ in range(4 * expected_workers)
            ):
                return
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"error: the {self.name} server did not start; log: {self.log_path}")

    def _answers(self) -> bool:
        try:
            status, _ = http("GET", f"{self.base_url}{self.ready_path}", timeout=2)
        except OSError:
            return False
        return status == 200

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then for good after 30 s."""
        if self.memory:
            self.memory.stop()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def api_server(
    port: int, workers: int, database_url: str, secret_key: str, log: Path, extra_env: dict
) -> Server:
    """The API in production mode: `python -m inventory serve`."""
    env = {
        **os.environ,
        "ENVIRONMENT": "production",
        "SECRET_KEY": secret_key,
        "BCRYPT_ROUNDS": "12",
        "DATABASE_URL": database_url,
        "METRICS_ENABLED": "true",
        "METRICS_TOKEN": METRICS_TOKEN,
        "WORKERS": str(workers),
        "ACCESS_TOKEN_EXPIRE_MINUTES": "240",
        **extra_env,
    }
    argv = [
        sys.executable,
        "-m",
        "inventory",
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return Server("API", argv, env, port, log)


def ceiling_server(port: int, workers: int, log: Path) -> Server:
    """The bare one-line app under the same uvicorn settings."""
    argv = [sys.executable, "-m", "bench.hello", HOST, str(port), str(workers)]
    return Server("ceiling", argv, dict(os.environ), port, log, ready_path="/")


def login(base_url: str, username: str, password: str) -> str:
    """A bearer token for the user."""
    form = urllib.parse.urlencode({"username": username, "password": password}).encode()
    status, body = http(
        "POST",
        f"{base_url}/api/v1/auth/login",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200:
        raise SystemExit(f"error: login as {username} failed with {status}: {body[:200]!r}")
    return json.loads(body)["access_token"]


@dataclass
class Scrape:
    """The API's request metrics at one moment (summed over its workers)."""

    statuses: dict[tuple[str, str, str], float] = field(default_factory=dict)
    """Answers by (method, route, status)."""
    durations: dict[tuple[str, str, str], float] = field(default_factory=dict)
    """Answers by (method, route, histogram bucket `le`), cumulative as Prometheus has them."""
    in_flight: float = 0.0


def _labels(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.replace('"', "").split(",") if part)


def scrape(base_url: str) -> Scrape | None:
    """The API's request counters; None when /metrics does not answer 200 (a server stuck on
    its database pool answers 503)."""
    try:
        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        status, body = http("GET", f"{base_url}/metrics", headers=headers, timeout=60)
    except OSError:
        return None
    if status != 200:
        return None
    result = Scrape()
    for line in body.decode().splitlines():
        if line.startswith("#") or "{" not in line:
            if line.startswith("inventory_http_requests_in_flight "):
                result.in_flight += float(line.rsplit(" ", 1)[1])
            continue
        name, rest = line.split("{", 1)
        labels_text, value = rest.rsplit("} ", 1)
        labels = _labels(labels_text)
        method, route = labels.get("method", ""), labels.get("route", "")
        if name == "inventory_http_requests_total":
            key = (method, route, labels.get("status", ""))
            result.statuses[key] = result.statuses.get(key, 0) + float(value)
        elif name == "inventory_http_request_duration_seconds_bucket":
            key = (method, route, labels.get("le", ""))
            result.durations[key] = result.durations.get(key, 0) + float(value)
        elif name == "inventory_http_requests_in_flight":
            result.in_flight += float(value)
    return result


def _merged(scrapes: list[Scrape]) -> Scrape:
    merged = Scrape()
    for one in scrapes:
        for mine, theirs in ((merged.statuses, one.statuses), (merged.durations, one.durations)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        merged.in_flight += one.in_flight
    return merged


def wait_until_idle(base_urls: list[str], timeout: float = 300) -> Scrape | None:
    """Wait until the servers (one, or each instance behind a balancer) have answered every
    request still queued from the last run (each scrape is the one left in flight on its
    server); return their summed metrics then, or the last ones read if that takes longer
    than `timeout` (None if a /metrics never answered)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        scraped = [scrape(url) for url in base_urls]
        if all(one is not None for one in scraped):
            last = _merged(scraped)
            if last.in_flight <= len(base_urls):
                return last
        time.sleep(0.5)
    return last


class CombinedMemory:
    """The WorkerMemory of several servers, read as one."""

    def __init__(self, memories: list[WorkerMemory]) -> None:
        self.memories = memories

    @property
    def window_peak(self) -> int:
        return max((memory.window_peak for memory in self.memories), default=0)

    @property
    def peak_by_pid(self) -> dict[int, int]:
        return {pid: peak for memory in self.memories for pid, peak in memory.peak_by_pid.items()}

    def start_window(self) -> None:
        for memory in self.memories:
            memory.start_window()

    def cpu_shares(self) -> list[float]:
        """Each worker's share of the CPU time all the servers used since `start_window`."""
        return _shares(
            {pid: cpu for memory in self.memories for pid, cpu in memory.cpu_used().items()}
        )


class BalancedServers:
    """Several API servers behind one HAProxy; used where the bench uses one Server."""

    name = "balanced API"

    def __init__(self, servers: list[Server], balancer: Balancer) -> None:
        self.servers = servers
        self.balancer = balancer
        self.base_url = balancer.base_url
        self.metrics_urls = [server.base_url for server in servers]
        self.memory: CombinedMemory | None = None

    def start(self, expected_workers: int) -> None:
        """Start every server (one after another: each migrates first), then the balancer."""
        try:
            for server in self.servers:
                server.start(expected_workers)
            self.balancer.start()
        except BaseException:
            self.stop()
            raise
        self.memory = CombinedMemory([server.memory for server in self.servers])

    def stop(self) -> None:
        self.balancer.stop()
        for server in self.servers:
            server.stop()
