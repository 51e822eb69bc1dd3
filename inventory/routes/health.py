"""Liveness and readiness, without authentication, for load balancers and orchestrators."""

from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from inventory.db import get_engine, get_read_router
from inventory.routing import ApiRouter

router = ApiRouter("/health", tag="health", public=True, base="")


@router.get("", summary="Is the process up?")
def health() -> dict[str, str]:
    """Answers 200 while the process serves requests; it does not touch the database."""
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Can the API reach its database?",
    responses={
        200: {
            "description": "The database answers. With a replica configured, `replica` says "
            "whether reads go to it (`ok`) or to the primary (`lagging`, `unreachable`).",
            "content": {
                "application/json": {
                    "example": {
                        "status": "ok",
                        "database": "ok",
                        "replica": "ok",
                        "replica_lag_seconds": 0.012,
                    }
                }
            },
        },
        503: {
            "description": "The database does not answer.",
            "content": {
                "application/json": {
                    "example": {"status": "unavailable", "database": "unreachable"}
                }
            },
        },
    },
)
def ready() -> JSONResponse:
    """Answers 200 when the database answers a query, else 503 with `Retry-After`. A replica
    that is down or lags does not make the API unready (reads fall back to the primary); the
    `replica` field reports it."""
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    body = {"status": "ok", "database": "ok"}
    router = get_read_router()
    if router is not None:
        body |= router.monitor.check().as_dict()
    return JSONResponse(body)
