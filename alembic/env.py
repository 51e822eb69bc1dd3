"""Alembic environment: the app's own settings and models, so migrations and code agree."""

import logging
from logging.config import fileConfig

from sqlalchemy import create_engine, pool, text
from sqlmodel import SQLModel

import inventory.models  # noqa: F401  (registers every table on SQLModel.metadata)
from alembic import context
from inventory.db import database_url
from inventory.models import compared_with_migrations

config = context.config
# Keep the logging of a process that set up its own (the app, the tests); else use alembic.ini's.
configure_logger = config.attributes.get("configure_logger", True)
if config.config_file_name is not None and configure_logger and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def url() -> str:
    """The URL given by the caller (tests), else the app's own."""
    return config.attributes.get("database_url") or database_url()


def run_migrations_offline() -> None:
    """Write the SQL to stdout instead of running it."""
    context.configure(
        url=url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
        include_name=compared_with_migrations,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations in one transaction against the database."""
    connectable = config.attributes.get("connection") or create_engine(
        url(), poolclass=pool.NullPool
    )
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


MIGRATION_LOCK = 7_430
"""The advisory lock that lets one process migrate at a time (several hosts start at once)."""


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_name=compared_with_migrations,
    )
    with context.begin_transaction():
        # The others wait here, then find the schema current and have nothing left to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
