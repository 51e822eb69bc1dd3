"""The app factory: routers, middleware, error handlers and the OpenAPI description."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from sqlmodel import Session

from inventory.auth import find_user_by_name, verify_password
from inventory.config import Settings, SettingsError, get_settings
from inventory.db import get_engine
from inventory.embeddings import get_embedder
from inventory.errors import install_handlers
from inventory.logs import configure_logging
from inventory.middleware import RequestContextMiddleware
from inventory.routes import (
    api_keys,
    auth,
    categories,
    docs,
    events,
    health,
    locations,
    low_stock,
    metrics,
    products,
    reservations,
    transfers,
    users,
    webhooks,
)
from inventory.supervision import exit_with_supervisor
from inventory.users import ensure_admin

logger = logging.getLogger(__name__)

DESCRIPTION = """
Keep an e-commerce catalogue (products, categories) and its stock right.

## Authentication
1. Get a user: `POST /api/v1/auth/register` (a read-only `viewer`), or ask an admin.
2. Log in: `POST /api/v1/auth/login` with the form fields `username` and `password`
   (or press **Authorize** above and fill in the same two fields).
3. Send the token on every call: `Authorization: Bearer <access_token>`.
   Tokens expire after `expires_in` seconds; log in again then.

## Roles
| role | may |
|---|---|
| `viewer` | read everything except users |
| `manager` | read; create and change products, categories and stock; no deletes, no users |
| `admin` | everything, including deletes and user administration |

## Conventions
- Lists return `{items, total, limit, offset}`; `limit` 1–200 (default 50), `offset` ≥ 0.
- Prices are exact decimals: send a number or a string, get a string with 2 places (`"19.99"`).
- Errors are JSON with a readable `detail` and the `request_id` (also in `X-Request-ID`).
- Stock never goes below zero; every change is in the product's ledger
  (`GET /api/v1/products/{id}/stock-movements`).
"""
TAGS = [
    {"name": "auth", "description": "Sign up, log in, and who you are."},
    {"name": "users", "description": "User administration (admin only)."},
    {"name": "api-keys", "description": "Keys for systems instead of passwords (admin only)."},
    {
        "name": "products",
        "description": "The catalogue, stock adjustments and the stock ledger.",
    },
    {"name": "categories", "description": "Groups of products (many-to-many)."},
    {"name": "inventory", "description": "Low-stock overview and alerts."},
    {"name": "events", "description": "The audit trail: every change, who made it (admin only)."},
    {
        "name": "webhooks",
        "description": "Signed deliveries of events to other systems, and their log (admin only).",
    },
    {
        "name": "locations",
        "description": "Warehouses and stores, and each product's stock at each of them.",
    },
    {"name": "stock transfers", "description": "Stock moved between locations."},
    {
        "name": "reservations",
        "description": "Stock held for carts and orders until committed, released or expired.",
    },
    {"name": "health", "description": "Liveness and readiness, no authentication."},
]


BOOTSTRAPPED_MARK = "INVENTORY_BOOTSTRAPPED"
"""Set by `python -m inventory run|serve` for its workers: migrations and first admin are done."""


def bootstrap_first_admin(settings: Settings) -> None:
    """Create FIRST_ADMIN_USERNAME if it is set and missing (safe with several workers)."""
    if not (settings.first_admin_username and settings.first_admin_password):
        return
    username, password = settings.first_admin_username, settings.first_admin_password
    with Session(get_engine()) as session:
        try:
            created = ensure_admin(session, username, password)
        except ValueError as error:
            raise SettingsError(f"FIRST_ADMIN_USERNAME/FIRST_ADMIN_PASSWORD: {error}") from None
        existing = None if created else find_user_by_name(session, username)
    if created:
        logger.info("created the first admin %r", username)
    elif existing is not None and verify_password(password, existing.password_hash):
        logger.info("the first admin %r exists already (left unchanged)", username)
    else:
        logger.warning(
            "FIRST_ADMIN_USERNAME %r exists already and was left unchanged: its password is not "
            "FIRST_ADMIN_PASSWORD, which only creates that user and never changes a password "
            "(change it with PATCH /api/v1/users/{id}, or start from an empty database)",
            username,
        )


YOUNG_GENERATION_THRESHOLD = 20_000
"""Allocations (less deallocations) between collections of the youngest generation; Python's
default is 700."""


def collect_garbage_less_often() -> None:
    """Freeze what start-up made (modules, the app, its routes and models) out of the
    collector's sight, and collect the young generation after 20,000 allocations, not 700.

    A request allocates thousands of objects, so the default collected several times a
    request, and every few hundred requests a full collection walked everything the process
    holds while the worker answered nobody. Measured at 64 connections: list-page p99
    200–270 ms → 125–140 ms, get-by-id 80–92 → 69–75 ms, at the same throughput.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])


def return_freed_memory() -> None:
    """Hand the pages that start-up allocated and freed back to the system (glibc keeps them
    otherwise): 4 MB less at a worker's peak under load (bench/README.md)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to hand back so
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Match the worker threads to the connection pool, create the first admin, tune the
    garbage collector for serving, and (in a worker of `serve`) stop with the supervisor."""
    settings = get_settings()
    # Sync routes run in threads, each using at most one connection at a time: as many threads
    # as pooled connections, so a thread never waits for the pool. More threads would queue on
    # the pool (and time out there) instead of waiting cheaply in the event loop; and threads
    # that draw on the overflow open and close a connection (a server process) each time.
    threads = settings.db_pool_size
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads
    if not os.environ.get(BOOTSTRAPPED_MARK):  # e.g. under a bare `uvicorn inventory.main:app`
        await anyio.to_thread.run_sync(bootstrap_first_admin, settings)
    # Load the embedder now rather than in the first write or search (WordLlama: about 0.3 s).
    await anyio.to_thread.run_sync(get_embedder)
    collect_garbage_less_often()
    return_freed_memory()
    exit_with_supervisor()
    yield
    get_engine().dispose()


def operation_id(route: APIRoute) -> str:
    """The route function's name (`list_products`, `adjust_stock`): what a generated client
    calls the method. tests/test_openapi.py holds them unique."""
    return route.name


def create_app() -> FastAPI:
    """Build the app from the settings of this process."""
    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.is_production)
    app = FastAPI(
        title="inventory",
        version="1.0.0",
        summary="Catalogue and stock management for an e-commerce business.",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        generate_unique_id_function=operation_id,
    )
    install_handlers(app)
    routers = (
        auth,
        users,
        api_keys,
        products,
        categories,
        low_stock,
        events,
        webhooks,
        locations,
        transfers,
        reservations,
    )
    for module in routers:
        app.include_router(module.router)
    app.include_router(health.router)
    app.include_router(docs.router)
    app.mount(docs.ASSETS_URL, docs.assets, name="docs-assets")
    if settings.metrics_enabled:
        app.include_router(metrics.router)
        if settings.is_production and settings.metrics_token is None:
            logger.warning("/metrics is open to anyone who can reach it: set METRICS_TOKEN")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "Location", "X-Request-ID", "Retry-After"],
        )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics_enabled=settings.metrics_enabled,
    )
    return app


app = create_app()
