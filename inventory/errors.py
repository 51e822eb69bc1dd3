"""What can go wrong, and how it is answered.

Business code raises a `DomainError` (`NotFound`, `Conflict`, `Invalid`, ...) carrying its HTTP
status, a sentence for people and any extra body fields; `install_handlers` turns it, and every
other exception the app expects (a request that does not fit, a constraint, an unreachable
database), into the one error body: `{detail, request_id, ...}`. Anything else is the
middleware's JSON 500.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A request the rules refuse: its status, a readable `detail`, extra body fields and
    headers."""

    status_code: ClassVar[int] = 400

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class Invalid(DomainError):
    """422: the request fits the schema but breaks a rule (`errors` lists each problem)."""

    status_code = 422

    def __init__(self, detail: str, *, loc: tuple[str | int, ...] = (), **extra: Any) -> None:
        errors = [{"loc": list(loc), "msg": detail, "type": "value_error"}]
        super().__init__(detail, errors=extra.pop("errors", errors), **extra)


class Unauthorized(DomainError):
    """401: no valid credentials; the client should send a bearer token."""

    status_code = 401

    def __init__(self, detail: str = "not authenticated", **extra: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(DomainError):
    """403: the caller's role may not do this."""

    status_code = 403


class NotFound(DomainError):
    """404: no such resource."""

    status_code = 404

    def __init__(self, kind: str, identifier: int | str) -> None:
        super().__init__(f"{kind} {identifier} not found")


class Conflict(DomainError):
    """409: the request conflicts with the current state; nothing changed."""

    status_code = 409


class PreconditionFailed(DomainError):
    """412: `If-Match` no longer matches."""

    status_code = 412


class Unavailable(DomainError):
    """503: the service cannot answer this until an operator acts (the detail says how)."""

    status_code = 503


class TooManyRequests(DomainError):
    """429: throttled; retry after `retry_after` seconds."""

    status_code = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


def commit_or_conflict(session: Session, detail: str) -> None:
    """Commit, turning a unique or foreign-key violation into a Conflict with `detail`."""
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(detail) from error


def flush_or_conflict(session: Session, detail: str) -> None:
    """Write pending rows now (a new row gets its id), turning a unique or foreign-key
    violation into a Conflict with `detail`."""
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(detail) from error


# ---------------------------------------------------------------------------------------------
# The error body and its documentation.


class ErrorBody(BaseModel):
    """Every error: a sentence for people, and the request id to quote when reporting it."""

    model_config = ConfigDict(extra="allow")

    detail: str = Field(examples=["not authenticated"])
    request_id: str | None = Field(default=None, examples=["6f1c0e9b2a7d4c3e"])


class ValidationErrorBody(ErrorBody):
    """A request that does not fit: `detail` sums it up, `errors` lists each problem."""

    errors: list[dict[str, Any]] = Field(
        default_factory=list,
        examples=[
            [{"loc": ["body", "price"], "msg": "Input should be greater than or equal to 0"}]
        ],
    )


def error_doc(
    status: int, description: str, example: str, model: type[BaseModel] = ErrorBody, **extra: Any
) -> dict[int, dict[str, Any]]:
    """A `responses=` entry: what `status` means for this operation, with a true example."""
    return {
        status: {
            "model": model,
            "description": description,
            "content": {"application/json": {"example": {"detail": example, **extra}}},
        }
    }


def invalid_doc(description: str, example: str) -> dict[int, dict[str, Any]]:
    """A 422 entry for an operation with a rule beyond its schema."""
    return error_doc(422, description, example, ValidationErrorBody)


PROTECTED = error_doc(
    401, "Missing, invalid or expired credentials.", "not authenticated"
) | invalid_doc(
    "The request does not fit the schema.",
    "query.limit: Input should be less than or equal to 200",
)
"""What every authenticated route can answer besides success (a route that needs a role
documents its 403 too: see `inventory.routing.ApiRoute`)."""


# ---------------------------------------------------------------------------------------------
# Handlers.


def error_response(
    request: Request,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The error body for `status`, with the request's id."""
    body = {"detail": detail, "request_id": getattr(request.state, "request_id", None), **extra}
    return JSONResponse(body, status_code=status, headers=headers)


async def domain_error(request: Request, error: DomainError) -> JSONResponse:
    """A rule refused the request."""
    return error_response(request, error.status_code, error.detail, error.headers, **error.extra)


async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    """The framework's own errors (404 for an unknown path, 405, a malformed body)."""
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(request, error.status_code, str(error.detail), headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path (the router alone names only one route's)."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


MAX_ERRORS_LISTED = 50
"""A 422 lists this many problems and counts the rest: a body of 30,000 unknown keys once got
a 9.4 MB answer."""
MAX_ECHOED_CHARACTERS = 100
"""The longest piece of the request (a key in `loc`, a message quoting a value) a 422 repeats."""


def _shortened(text: str) -> str:
    if len(text) <= MAX_ECHOED_CHARACTERS:
        return text
    return f"{text[:MAX_ECHOED_CHARACTERS]}… ({len(text)} characters)"


def _location(loc: list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """A 422 that says in one line what is wrong, plus the list: at most MAX_ERRORS_LISTED
    problems, never the input itself, and no key or message longer than
    MAX_ECHOED_CHARACTERS."""
    errors = error.errors()
    problems = [
        {
            "loc": [
                part if isinstance(part, int) else _shortened(str(part)) for part in item["loc"]
            ],
            "msg": _shortened(item["msg"]),
            "type": item["type"],
        }
        for item in errors[:MAX_ERRORS_LISTED]
    ]
    summary = "; ".join(f"{_location(item['loc'])}: {item['msg']}" for item in problems)
    if len(errors) > MAX_ERRORS_LISTED:
        summary += f"; and {len(errors) - MAX_ERRORS_LISTED} more"
    return error_response(request, 422, summary, errors=problems)


async def integrity_error(request: Request, error: IntegrityError) -> JSONResponse:
    """A constraint the checks before it did not catch (a race): a conflict, not a crash."""
    logger.warning("integrity error turned into 409: %s", type(error.orig).__name__)
    return error_response(request, 409, "the change conflicts with existing data")


async def data_error(request: Request, error: DataError) -> JSONResponse:
    """A value the database cannot store (out of range)."""
    logger.warning("data error turned into 422: %s", type(error.orig).__name__)
    return error_response(request, 422, "a value is out of range")


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    """The database is down or every connection is busy: try again shortly."""
    logger.error("database unavailable: %s", type(error).__name__)
    return error_response(
        request,
        503,
        "the database is unavailable; try again shortly",
        headers={"Retry-After": "5"},
    )


def install_handlers(app: FastAPI) -> None:
    """Answer every expected exception with the error body."""
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(DataError, data_error)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(PoolTimeoutError, database_unavailable)
