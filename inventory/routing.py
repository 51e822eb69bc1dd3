"""How the API's routes are built: one router class every resource module uses, the path id
type, and the request class that reads JSON numbers exactly."""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BeforeValidator
from sqlmodel import Session

from inventory.auth import RoleRequirement
from inventory.errors import PROTECTED, NotFound, error_doc
from inventory.models import MAX_DB_INT
from inventory.replica import RoutedReadSession

API_PREFIX = "/api/v1"
PLAIN_DIGITS = re.compile(r"[0-9]{1,10}")


def _plain_digits(value: Any) -> Any:
    """A path id is written in plain decimal digits: `1.0`, `+1`, `1e0` and ` 1` are no ids."""
    if isinstance(value, str) and not PLAIN_DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written in decimal digits")
    return value


IdPath = Annotated[
    int,
    Path(ge=1, le=MAX_DB_INT, description="The id.", examples=[1]),
    BeforeValidator(_plain_digits),
]


class ExactJSONRequest(Request):
    """A request whose JSON numbers with a fraction are read as Decimal, so a price is never a
    float on its way in; a body that is not UTF-8 is malformed JSON (RFC 8259), a 422."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            raw = await self.body()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise json.JSONDecodeError(
                    "body is not UTF-8", repr(raw[:50]), error.start
                ) from error
            self._json = json.loads(text, parse_float=Decimal)
        return self._json


def _closing_sessions(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, closing the sessions it was given when it returns (or raises).

    A read that found nothing on the replica runs once more on the primary (see
    `RoutedReadSession.read_again_on_primary`).
    """

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        sessions = [value for value in kwargs.values() if isinstance(value, Session)]
        try:
            try:
                return function(*args, **kwargs)
            except NotFound:
                if not _read_again_on_primary(sessions):
                    raise
                return function(*args, **kwargs)
        finally:
            for session in sessions:
                session.close()

    return run


def _read_again_on_primary(sessions: list[Session]) -> bool:
    """Move the replica reads among `sessions` to the primary; whether there were any."""
    moved = [
        session.read_again_on_primary()
        for session in sessions
        if isinstance(session, RoutedReadSession)
    ]
    return any(moved)


def _role_requirement(dependant: Dependant) -> RoleRequirement | None:
    """The role a route's dependencies require, if any."""
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RoleRequirement):
            return dependency.call
        found = _role_requirement(dependency)
        if found is not None:
            return found
    return None


class ApiRoute(APIRoute):
    """A route of the API.

    - JSON bodies are read by `ExactJSONRequest`.
    - A route that needs a role documents its 403 with the roles it needs.
    - A sync route's session is closed when the route's function returns, in its worker thread,
      so its connection is back in the pool before FastAPI validates the response in another
      worker thread. Holding a connection while waiting for a thread dead-locks a busy worker:
      every thread waits for a connection and every connection for a thread, until the pool
      times out. Whatever the response needs must be loaded by then (it is: relationships are
      loaded eagerly and commits do not expire).
    - A sync GET that a replica answered with 404 runs once more on the primary.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _closing_sessions(endpoint)
        super().__init__(path, endpoint, **kwargs)
        requirement = _role_requirement(self.dependant)
        if requirement is not None:
            self.responses = {
                **error_doc(403, "Your role may not do this.", requirement.refusal),
                **self.responses,
            }

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact_handler(request: Request) -> Response:
            return await handler(ExactJSONRequest(request.scope, request.receive))

        return exact_handler


class ApiRouter(APIRouter):
    """The router of every module in `inventory.routes`: its routes are `ApiRoute`s, its paths
    sit under `base` (`/api/v1`), and it documents the 401/403/422 of authenticated routes
    (`public=True` for those that need no credentials)."""

    def __init__(
        self,
        path: str = "",
        *,
        tag: str | None = None,
        public: bool = False,
        base: str = API_PREFIX,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            prefix=f"{base}{path}",
            tags=[tag] if tag else None,
            route_class=ApiRoute,
            responses={} if public else PROTECTED,
            **kwargs,
        )
