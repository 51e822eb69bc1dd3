"""HTTP pieces every route module shares: error bodies and their docs, ids, pages, exact JSON."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from inventory.models import MAX_DB_INT, ApiModel

API_PREFIX = "/api/v1"


class ErrorBody(BaseModel):
    """Every error: a sentence for people, and the request id to quote when reporting it."""

    model_config = ConfigDict(extra="allow")

    detail: str = Field(examples=["product 42 not found"])
    request_id: str | None = Field(default=None, examples=["6f1c0e9b2a7d4c3e"])


class ValidationErrorBody(ErrorBody):
    """A request that does not fit: `detail` sums it up, `errors` lists each problem."""

    errors: list[dict[str, Any]] = Field(
        default_factory=list,
        examples=[
            [
                {
                    "loc": ["body", "price"],
                    "msg": "Input should be greater than or equal to 0",
                }
            ]
        ],
    )


def _error(description: str, example: str, model: type[BaseModel] = ErrorBody) -> dict[str, Any]:
    return {
        "model": model,
        "description": description,
        "content": {"application/json": {"example": {"detail": example}}},
    }


UNAUTHORIZED = {401: _error("Missing, invalid or expired token.", "not authenticated")}
FORBIDDEN = {403: _error("Your role may not do this.", "this needs one of the roles: admin")}
NOT_FOUND = {404: _error("No such resource.", "product 42 not found")}
CONFLICT = {409: _error("Conflicts with the current state.", "sku 'HOSE-25' already exists")}
PRECONDITION_FAILED = {
    412: _error("`If-Match` no longer matches the current version.", "version is now 4, not 3")
}
INVALID = {
    422: _error(
        "The request does not fit the schema or the rules.",
        "body.price: Input should be greater than or equal to 0",
        ValidationErrorBody,
    )
}
TOO_MANY = {
    429: _error(
        "Too many failed logins; retry after `Retry-After` seconds.",
        "too many failed logins",
    )
}
PROTECTED = UNAUTHORIZED | FORBIDDEN | INVALID
"""What every authenticated route can answer besides success."""

IdPath = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The id.", examples=[1])]


def not_found(kind: str, identifier: int) -> HTTPException:
    """A 404 naming what was missing."""
    return HTTPException(status_code=404, detail=f"{kind} {identifier} not found")


def conflict(detail: str, **extra: Any) -> HTTPException:
    """A 409; extra fields travel in the body (see the exception handler in main)."""
    error = HTTPException(status_code=409, detail=detail)
    error.extra = extra  # type: ignore[attr-defined]
    return error


def commit_or_conflict(session: Session, detail: str) -> None:
    """Commit, turning a unique or foreign-key violation into a 409 with `detail`."""
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise conflict(detail) from error


@dataclass(frozen=True)
class PageParams:
    """Which slice of a list to return."""

    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page, 1–200.")] = 50,
    offset: Annotated[
        int, Query(ge=0, le=MAX_DB_INT, description="How many matching items to skip.")
    ] = 0,
) -> PageParams:
    """Read `limit` and `offset`; out-of-range values are a 422, never clamped."""
    return PageParams(limit=limit, offset=offset)


@lru_cache
def page_of(item_model: type[BaseModel]) -> type[ApiModel]:
    """The list envelope {items, total, limit, offset} for `item_model`."""
    name = item_model.__name__.removesuffix("Read") + "Page"
    return create_model(
        name,
        __base__=ApiModel,
        __doc__=f"One page of {item_model.__name__.removesuffix('Read').lower()}s.",
        items=(list[item_model], Field(description="This page's items.")),
        total=(int, Field(description="How many items match, over all pages.", examples=[120])),
        limit=(int, Field(description="The page size asked for.", examples=[50])),
        offset=(int, Field(description="How many matching items were skipped.", examples=[0])),
    )


def page_body(items: list[Any], total: int, page: PageParams) -> dict[str, Any]:
    """The envelope's content."""
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


def json_page_response(items: list[str], total: int, page: PageParams) -> Response:
    """A page whose items are JSON text already (written by PostgreSQL), in the envelope
    `page_of` describes."""
    body = (
        f'{{"items":[{",".join(items)}],"total":{total},'
        f'"limit":{page.limit},"offset":{page.offset}}}'
    )
    return Response(body, media_type="application/json")


class _ExactJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            raw = await self.body()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                # JSON must be UTF-8 (RFC 8259): report it like any other malformed JSON (422).
                raise json.JSONDecodeError(
                    "body is not UTF-8", repr(raw[:50]), error.start
                ) from error
            self._json = json.loads(text, parse_float=Decimal)
        return self._json


def json_response(
    model: type[BaseModel],
    content: Any,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """`content` validated as `model` and serialised to JSON here, in the route's thread.

    A sync route that returns data has FastAPI validate and serialise it in one more worker
    thread; the hop there and back costs about as much as the serialising. The route's return
    annotation still documents the body.
    """
    body = model.model_validate(content).model_dump_json()
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


def _closing_sessions(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, closing the sessions it was given when it returns (or raises)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        finally:
            for value in kwargs.values():
                if isinstance(value, Session):
                    value.close()

    return run


class ApiRoute(APIRoute):
    """The route class of the API's routers.

    - JSON numbers with a fraction are parsed as Decimal, so a price is never a float on its
      way in.
    - A sync route's session is closed when the route's function returns, in its worker thread,
      so its connection is back in the pool before FastAPI validates the response in another
      worker thread. Holding a connection while waiting for a thread dead-locks a busy worker:
      every thread waits for a connection and every connection for a thread, until the pool
      times out. Whatever the response needs must be loaded by then (it is: relationships are
      loaded eagerly and commits do not expire).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _closing_sessions(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact_handler(request: Request) -> Response:
            return await handler(_ExactJSONRequest(request.scope, request.receive))

        return exact_handler


PageDep = Annotated[PageParams, Depends(page_params)]
