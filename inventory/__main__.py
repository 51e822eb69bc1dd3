"""Command line: `python -m inventory run|serve|migrate|downgrade|create-admin`.

`run` is the developer mode (reload, embedded database when DATABASE_URL is unset); `serve` is
production (several workers, graceful shutdown). Both migrate and create the first admin once,
before any worker starts.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import signal
import sys
import tempfile
from typing import TYPE_CHECKING

from inventory.config import SettingsError, get_settings
from inventory.logs import configure_logging

if TYPE_CHECKING:
    from alembic.config import Config


def _alembic_config() -> Config:
    """alembic.ini, logging through this process's handlers rather than adding its own (which
    printed every later line twice, and plain text among production's JSON lines)."""
    # Importing alembic logs one INFO line per built-in plugin: noise on every start.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from alembic.config import Config

    config = Config("alembic.ini")
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
        if session.scalar(select(func.count()).select_from(User)) or settings.is_production:
            print("Log in with an existing user (make create-admin adds an admin).")
            return
        password = secrets.token_urlsafe(12)
        ensure_admin(session, "admin", password)
    print(f"Created a development admin: username 'admin', password '{password}'.")


def _exit_cleanly_on_sigterm() -> None:
    """Let SIGTERM end this process through SystemExit, so exit handlers run (they stop the
    embedded PostgreSQL). uvicorn restores this handler and re-raises the signal at shutdown."""

    def exit_now(signum: int, frame: object) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, exit_now)


def run(host: str, port: int) -> None:
    """Developer mode: embedded database if needed, migrations, reload on code changes."""
    import uvicorn

    _prepare_database()
    _ensure_an_admin_exists()
    _exit_cleanly_on_sigterm()
    print(f"Serving on http://{host}:{port} — API docs at http://{host}:{port}/docs")
    uvicorn.run(
        "inventory.main:app",
        host=host,
        port=port,
        reload=True,
        reload_dirs=["inventory"],
        log_config=None,
        server_header=False,
    )


SERVE_OPTIONS = {"log_config": None, "server_header": False, "proxy_headers": True}
"""uvicorn's options for `serve` besides address, workers and shutdown timeout (the bench's
ceiling app is served with the same)."""


def serve(host: str, port: int, workers: int, graceful_timeout: int) -> None:
    """Production mode: migrate and bootstrap once, then several workers."""
    import uvicorn

    from inventory.main import BOOTSTRAPPED_MARK, bootstrap_first_admin

    _prepare_database()
    bootstrap_first_admin(get_settings())
    os.environ[BOOTSTRAPPED_MARK] = "1"
    if get_settings().metrics_enabled and workers > 1:
        # Workers share their samples through files; a fresh folder per start.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="inventory-metrics-")
    _exit_cleanly_on_sigterm()
    uvicorn.run(
        "inventory.main:app",
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=graceful_timeout,
        **SERVE_OPTIONS,
    )


def create_admin(username: str | None, password: str | None) -> None:
    """Create an admin from flags, or by asking."""
    from sqlmodel import Session

    from inventory.db import get_engine
    from inventory.users import check_credentials, ensure_admin

    username = username or input("Admin username: ").strip()
    password = password or getpass.getpass("Admin password: ")
    try:
        check_credentials(username, password)
    except ValueError as error:
        sys.exit(f"error: {error}")
    _prepare_database()
    with Session(get_engine()) as session:
        if not ensure_admin(session, username, password):
            sys.exit(f"error: a user named {username!r} exists already")
    print(f"Created admin {username!r}.")


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
    commands.add_parser("migrate").add_argument("revision", nargs="?", default="head")
    commands.add_parser("downgrade").add_argument("revision", nargs="?", default="-1")
    admin = commands.add_parser("create-admin")
    admin.add_argument("--username")
    admin.add_argument("--password", help="omit to be asked (keeps it out of shell history)")
    args = parser.parse_args(argv)
    configure_logging(settings.log_level, json_lines=settings.is_production)
    try:
        _dispatch(args)
    except SettingsError as error:
        sys.exit(f"configuration error: {error}")


def _dispatch(args: argparse.Namespace) -> None:
    if args.command == "run":
        run(args.host, args.port)
    elif args.command == "serve":
        serve(args.host, args.port, args.workers, args.graceful_timeout)
    elif args.command == "migrate":
        _prepare_database() if args.revision == "head" else migrate(args.revision)
    elif args.command == "downgrade":
        downgrade(args.revision)
    else:
        create_admin(args.username, args.password)


if __name__ == "__main__":
    main()
