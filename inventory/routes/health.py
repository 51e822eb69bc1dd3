"""Liveness and readiness, without authentication, for load balancers and orchestrators."""

from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from inventory.db import get_engine
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
        503: {
            "description": "The database does not answer.",
            "content": {
                "application/json": {
                    "example": {"status": "unavailable", "database": "unreachable"}
                }
            },
        }
    },
)
def ready() -> JSONResponse:
    """Answers 200 when the database answers a query, else 503 with `Retry-After`."""
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ok", "database": "ok"})
