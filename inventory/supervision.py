"""How the processes of `serve` stop together: the supervisor stops listening the moment it is
told to stop, and a worker stops when its supervisor is gone.

uvicorn's supervisor kept its copy of the listening socket open until every worker had drained,
so after SIGTERM the kernel went on accepting connections that nobody would answer (reset when
the socket finally closed): a load balancer saw a hanging server, not a gone one. And a worker
whose supervisor was killed (kill -9) went on serving as an orphan that nothing would stop.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import wait
from types import FrameType

from uvicorn import Config
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger(__name__)


class DrainingSupervisor(Multiprocess):
    """uvicorn's multi-worker supervisor, which closes its listening socket at the first
    SIGTERM or SIGINT. The workers close theirs as their graceful shutdown begins, so from
    then on the kernel refuses new connections while the requests in flight finish."""

    def __init__(self, config: Config, sockets: list) -> None:
        super().__init__(config, sockets)
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, self._stop)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        for listening in self.sockets:
            listening.close()
        logger.info(
            "received %s: stopped listening; the workers finish their requests",
            signal.Signals(signum).name,
        )
        self.should_exit.set()  # the run loop then stops each worker gracefully


def supervise(config: Config) -> None:
    """Run `config.workers` workers on one listening socket until told to stop."""
    listening = config.bind_socket()
    DrainingSupervisor(config, sockets=[listening]).run()


def exit_with_supervisor() -> None:
    """In a worker process, stop gracefully (SIGTERM to itself) as soon as the process that
    started it is gone, however it died. Nothing to do in a process nobody started (tests,
    a single-process server)."""
    supervisor = multiprocessing.parent_process()
    if supervisor is None:
        return

    def watch() -> None:
        wait([supervisor.sentinel])  # readable once the supervisor has exited
        logger.error("the supervisor (pid %s) is gone; this worker stops", supervisor.pid)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()
