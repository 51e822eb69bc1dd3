"""HAProxy in front of several API instances on 127.0.0.1, round-robin per request.

Debian's `haproxy` package (`apt-get install haproxy`); the tests and `python -m bench
--instances N` use it. Every answer says which instance gave it in `X-Served-By` (i1, i2, ...).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

HOST = "127.0.0.1"
CONFIG = """\
global
    maxconn 4096

defaults
    mode http
    option forwardfor
    timeout connect 2s
    timeout client 60s
    timeout server 60s

frontend api
    bind {host}:{port}
    default_backend instances

backend instances
    balance roundrobin
    option httpchk GET /health/ready
    http-response set-header X-Served-By %[srv_name]
{servers}
"""


def find_haproxy() -> str | None:
    """The haproxy binary, or None when it is not installed."""
    # /usr/sbin is not on every user's PATH.
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")


class Balancer:
    """One HAProxy process in the foreground, with its configuration and log in `folder`."""

    def __init__(self, port: int, backend_ports: list[int], folder: Path) -> None:
        self.port = port
        self.backend_ports = backend_ports
        self.folder = folder
        self.base_url = f"http://{HOST}:{port}"
        self.process: subprocess.Popen | None = None

    def config(self) -> str:
        """The haproxy.cfg text."""
        servers = "\n".join(
            f"    server i{number} {HOST}:{port} check inter 2s"
            for number, port in enumerate(self.backend_ports, start=1)
        )
        return CONFIG.format(host=HOST, port=self.port, servers=servers)

    def start(self, timeout: float = 10) -> None:
        """Start HAProxy and wait until it accepts connections."""
        binary = find_haproxy()
        if binary is None:
            raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
        self.folder.mkdir(parents=True, exist_ok=True)
        config_path = self.folder / "haproxy.cfg"
        config_path.write_text(self.config())
        log = (self.folder / "haproxy.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (a fixed binary and our own config file)
            [binary, "-db", "-f", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {(self.folder / 'haproxy.log').read_text()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("haproxy did not start listening")

    def stop(self) -> None:
        """Stop HAProxy (it has no requests of its own to finish)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
