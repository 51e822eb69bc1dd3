"""Command line: `python -m inventory run|serve|worker|migrate|downgrade|create-admin|reindex`.

`run` is the developer mode (reload, embedded database when DATABASE_URL is unset); `serve` is
production (several workers, graceful shutdown). Both migrate and create the first admin once,
before any worker starts. `worker` runs the job queue (webhook deliveries); `run` starts one too.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from inventory.config import SettingsError, get_settings
from inventory.logs import configure_logging

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger("inventory.cli")

PACKAGE_DIR = Path(__file__).resolve().parent
ALEMBIC_INI = PACKAGE_DIR.parent / "alembic.ini"

DEV_ADMIN_FILE = ".dev-admin-password"
"""Where `run` keeps the password of the development admin it created (git-ignored, mode 600),
so the README's walkthrough can read it: `$(cat .dev-admin-password)`."""


class CommandError(Exception):
    """A failure the operator can fix; its message is the one line `main` prints."""


def _alembic_config() -> Config:
    """alembic.ini, logging through this process's handlers rather than adding its own (which
    printed every later line twice, and plain text among production's JSON lines)."""
    # Importing alembic logs one INFO line per built-in plugin: noise on every start.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.attributes["configure_logger"] = False
    return config


def migrate(revision: str = "head") -> None:
    """Bring the database schema up to `revision`."""
    config = _alembic_config()
    from alembic import command

    command.upgrade(config, revision)


def downgrade(revision: str) -> None:
    """Take the database schema down to `revision` (e.g. -1 or base)."""
    config = _alembic_config()
    from alembic import command

    command.downgrade(config, revision)


def _prepare_database() -> str:
    """Resolve the database (starting the embedded one if needed), migrate, and share its URL
    with the worker processes through the environment."""
    from inventory.db import database_url

    url = database_url()
    os.environ["DATABASE_URL"] = url
    migrate()
    return url


def _ensure_an_admin_exists() -> None:
    """Create the configured first admin; in development, with no user at all, create an
    `admin` with a random password and print it, so someone can log in."""
    from sqlalchemy import func, select
    from sqlmodel import Session

    from inventory.db import get_engine
    from inventory.main import BOOTSTRAPPED_MARK, bootstrap_first_admin
    from inventory.models import User
    from inventory.users import ensure_admin

    settings = get_settings()
    bootstrap_first_admin(settings)
    os.environ[BOOTSTRAPPED_MARK] = "1"
    with Session(get_engine()) as session:
        has_users = session.scalar(select(func.count()).select_from(User))
        if has_users or settings.is_production:
            print(_existing_login_hint())
            return
        password = secrets.token_urlsafe(12)
        ensure_admin(session, "admin", password)
    _write_private_file(DEV_ADMIN_FILE, password + "\n")
    print(
        f"Created a development admin: username 'admin', password '{password}' "
        f"(saved in {DEV_ADMIN_FILE})."
    )


def _existing_login_hint() -> str:
    if os.path.exists(DEV_ADMIN_FILE):
        return f"Log in as 'admin' with the password in {DEV_ADMIN_FILE} (or any existing user)."
    return "Log in with an existing user (make create-admin adds an admin)."


def _write_private_file(path: str, content: str) -> None:
    """Write `content` to `path`, readable by this user only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(content)


def check_port_free(host: str, port: int) -> None:
    """Fail before anything is printed or started when another process holds `host:port`.

    The server binds the same way (SO_REUSEADDR), so a port in TIME_WAIT is not reported busy.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        cause = error.strerror or str(error)
        raise CommandError(
            f"cannot listen on {host}:{port}: {cause}; choose another port "
            f"(make run PORT=8123, or --port)"
        ) from error


def _exit_cleanly_on_sigterm() -> None:
    """Let SIGTERM end this process through SystemExit, so exit handlers run (they stop the
    embedded PostgreSQL). uvicorn restores this handler and re-raises the signal at shutdown."""

    def exit_now(signum: int, frame: object) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, exit_now)


def run(host: str, port: int) -> None:
    """Developer mode: embedded database if needed, migrations, a worker beside the server,
    reload on code changes."""
    import uvicorn

    check_port_free(host, port)
    _prepare_database()
    _ensure_an_admin_exists()
    _exit_cleanly_on_sigterm()
    worker = subprocess.Popen([sys.executable, "-m", "inventory", "worker"])
    print(f"Serving on http://{host}:{port} — API docs at http://{host}:{port}/docs")
    try:
        uvicorn.run(
            "inventory.main:app",
            host=host,
            port=port,
            reload=True,
            reload_dirs=[str(PACKAGE_DIR)],
            log_config=None,
            server_header=False,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def worker() -> None:
    """Run the job queue's worker until SIGTERM or SIGINT."""
    from inventory.db import database_url
    from inventory.worker import run_worker

    os.environ["DATABASE_URL"] = database_url()
    run_worker()


SERVE_OPTIONS = {
    "log_config": None,
    "server_header": False,
    "proxy_headers": True,
    "http": "inventory.connection_limits:LimitedHttpToolsProtocol",
}
"""uvicorn's options for `serve` besides address, workers and shutdown timeout (the bench's
ceiling app is served with the same)."""


def serve(host: str, port: int, workers: int, graceful_timeout: int) -> None:
    """Production mode: migrate and bootstrap once, then several workers (see
    `inventory.supervision` for how they stop). Never with the development signing key,
    whatever ENVIRONMENT says."""
    import uvicorn

    get_settings().check_signing_key()

    from inventory.main import BOOTSTRAPPED_MARK, bootstrap_first_admin

    check_port_free(host, port)
    _prepare_database()
    bootstrap_first_admin(get_settings())
    os.environ[BOOTSTRAPPED_MARK] = "1"
    if get_settings().metrics_enabled and workers > 1:
        # Workers share their samples through files; a fresh folder per start.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="inventory-metrics-")
    # glibc gives each thread that allocates at once a heap of its own (up to 8 per core);
    # two are plenty for a worker's few threads, and the peak per worker is 4 MB lower
    # (bench/README.md). Read by glibc when a worker starts, so it is set for the workers.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    _exit_cleanly_on_sigterm()
    options = {
        "host": host,
        "port": port,
        "workers": workers,
        "timeout_graceful_shutdown": graceful_timeout,
        **SERVE_OPTIONS,
    }
    if workers == 1:
        uvicorn.run("inventory.main:app", **options)  # one process, which stops listening itself
    else:
        from inventory.supervision import supervise

        supervise(uvicorn.Config("inventory.main:app", **options))


def create_admin(username: str | None, password: str | None) -> None:
    """Create an admin from flags, or by asking."""
    from sqlmodel import Session

    from inventory.db import get_engine
    from inventory.users import check_credentials, ensure_admin

    try:
        username = username or input("Admin username: ").strip()
        password = password or getpass.getpass("Admin password: ")
    except EOFError:
        raise CommandError(
            "no username or password given (standard input is closed); "
            "pass --username and --password"
        ) from None
    try:
        check_credentials(username, password)
    except ValueError as error:
        raise CommandError(str(error)) from None
    _prepare_database()
    with Session(get_engine()) as session:
        if not ensure_admin(session, username, password):
            raise CommandError(f"a user named {username!r} exists already")
    print(f"Created admin {username!r}.")


def reindex(batch_size: int) -> None:
    """Embed the products whose vector is missing or from another model, with a progress bar."""
    from inventory.reindex import reindex as embed_stale_products

    _prepare_database()
    done = embed_stale_products(batch_size)
    print(f"Embedded {done} product{'s' if done != 1 else ''}.")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the command."""
    try:
        settings = get_settings()  # first: it loads .env, which may set HOST, PORT and WORKERS
    except SettingsError as error:
        sys.exit(f"configuration error: {error}")
    parser = argparse.ArgumentParser(prog="python -m inventory")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "serve"):
        sub = commands.add_parser(name)
        sub.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        sub.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    commands.choices["serve"].add_argument(
        "--workers", type=int, default=int(os.environ.get("WORKERS", os.cpu_count() or 1))
    )
    commands.choices["serve"].add_argument(
        "--graceful-timeout", type=int, default=int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
    )
    commands.add_parser("worker")
    commands.add_parser("migrate").add_argument("revision", nargs="?", default="head")
    commands.add_parser("downgrade").add_argument("revision", nargs="?", default="-1")
    admin = commands.add_parser("create-admin")
    admin.add_argument("--username")
    admin.add_argument("--password", help="omit to be asked (keeps it out of shell history)")
    commands.add_parser("reindex").add_argument(
        "--batch-size", type=int, default=500, help="products embedded and committed at a time"
    )
    args = parser.parse_args(argv)
    configure_logging(settings.log_level, json_lines=settings.is_production)
    try:
        _dispatch(args)
    except SettingsError as error:
        sys.exit(f"configuration error: {error}")
    except CommandError as error:
        sys.exit(f"error: {error}")
    except (KeyboardInterrupt, EOFError):
        sys.exit(130)
    except Exception as error:
        if not _is_connection_failure(error):
            raise
        logger.debug("could not connect to the database", exc_info=True)
        sys.exit(f"error: {_connection_failure(error)}")


def _is_connection_failure(error: BaseException) -> bool:
    """Whether `error` (or what SQLAlchemy wraps in it) is psycopg failing to connect: the
    client's own error, without the SQLSTATE that any error from a server has."""
    import psycopg

    original = getattr(error, "orig", error)
    return isinstance(original, psycopg.OperationalError) and original.sqlstate is None


def _connection_failure(error: BaseException) -> str:
    """One line naming the setting, the host and the cause (never the password)."""
    from sqlalchemy.engine import make_url

    from inventory.db import database_url

    url = make_url(database_url())
    host = url.host or url.query.get("host") or "localhost"
    where = f"{host}:{url.port}" if url.port else str(host)
    message = str(getattr(error, "orig", error)).strip()
    cause = message.splitlines()[0].rsplit("failed: ", 1)[-1].removeprefix("FATAL:").strip()
    setting = "DATABASE_URL" if get_settings().database_url else "the embedded PostgreSQL"
    hint = "" if get_settings().log_level == "DEBUG" else " (LOG_LEVEL=DEBUG shows the traceback)"
    return f"cannot connect to the database at {where} ({setting}): {cause}{hint}"


def _dispatch(args: argparse.Namespace) -> None:
    if args.command == "run":
        run(args.host, args.port)
    elif args.command == "serve":
        serve(args.host, args.port, args.workers, args.graceful_timeout)
    elif args.command == "worker":
        worker()
    elif args.command == "migrate":
        _prepare_database() if args.revision == "head" else migrate(args.revision)
    elif args.command == "downgrade":
        downgrade(args.revision)
    elif args.command == "reindex":
        reindex(args.batch_size)
    else:
        create_admin(args.username, args.password)


if __name__ == "__main__":
    main()
