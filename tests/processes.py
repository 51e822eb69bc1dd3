"""Real processes for the webhook tests: a receiver (an HTTP server on 127.0.0.1 in this
process) and workers (`python -m inventory worker` subprocesses on the test database)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent

WORKER_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "WEBHOOK_RETRY_SCHEDULE": "0.2,0.2,0.2,0.2,0.2,0.2",
    "WEBHOOK_TIMEOUT_SECONDS": "5",
    "WORKER_HEARTBEAT_SECONDS": "0.5",
    "WORKER_STALLED_AFTER_SECONDS": "2",
    "WORKER_CONCURRENCY": "8",
    "DB_POOL_SIZE": "8",
}
"""Workers in tests: receivers on 127.0.0.1 allowed, retries and dead-worker checks in seconds."""


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers with `answer(n)`, n
    being how many requests with the same `webhook-id` came before (0 for the first)."""

    def __init__(self, answer: Callable[[int], int] = lambda seen: 200) -> None:
        self.answer = answer
        self.requests: list[Received] = []
        self.hold = threading.Event()
        self.hold.set()
        self._seen: Counter[str] = Counter()
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    message_id = self.headers.get("webhook-id", "")
                    status = receiver.answer(receiver._seen[message_id])
                    receiver._seen[message_id] += 1
                    receiver.requests.append(Received(dict(self.headers.items()), body))
                    receiver._lock.notify_all()
                receiver.hold.wait(timeout=30)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hold.set()
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Wait until at least `count` requests came (AssertionError after `timeout`)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"{len(self.requests)} of {count} requests came")
            return list(self.requests)


class Worker:
    """A `python -m inventory worker` process."""

    def __init__(self, log_path: Path, **env: str) -> None:
        self.log_path = log_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "inventory", "worker"],
            cwd=ROOT,
            env={**os.environ, **WORKER_ENV, **env},
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """kill -9: no chance to finish or say goodbye."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, as a deployment would, then wait."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    @property
    def log(self) -> str:
        return self.log_path.read_text()


@contextmanager
def workers(tmp_path: Path, engine: Engine, count: int = 1, **env: str) -> Iterator[list[Worker]]:
    """`count` workers, running (registered in the database) when the block starts."""
    started = [Worker(tmp_path / f"worker-{index}.log", **env) for index in range(count)]
    try:
        wait_until(lambda: _registered_workers(engine) >= count, what="workers to start")
        yield started
    finally:
        for worker in started:
            worker.stop()


def _registered_workers(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM procrastinate_workers"))


def jobs_left(engine: Engine) -> int:
    """Delivery jobs waiting or running."""
    with engine.connect() as connection:
        return connection.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs "
                "WHERE queue_name = 'webhooks' AND status IN ('todo', 'doing')"
            )
        )


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll `condition` until it holds (AssertionError naming `what` after `timeout`)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
