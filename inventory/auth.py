"""Who is calling and what they may do: password hashing, JWTs, and the role dependencies.

Tokens carry the user id and the user's token version; the user is loaded on every request, so
deleting a user or changing their role takes effect at once for tokens already issued, and a
change of password or active flag (which moves the version) ends them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from jose import JWTError, jwt
from jose.exceptions import JWKError
from passlib.context import CryptContext
from sqlalchemy import bindparam, func, select
from sqlmodel import Session

from inventory import api_keys
from inventory.config import get_settings
from inventory.db import get_autocommit_engine
from inventory.errors import Forbidden, Unauthorized
from inventory.models import BCRYPT_MAX_BYTES, MAX_DB_INT, Role, User
from inventory.replica import READ_FENCE

logger = logging.getLogger(__name__)

JWT_ALGORITHM = "HS256"
TOKEN_URL = "/api/v1/auth/login"  # noqa: S105 (a path, not a secret)

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="Log in at `POST /api/v1/auth/login` (or with the Authorize button) "
    "and send the token as `Authorization: Bearer <token>`. An API key works here too.",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    auto_error=False,
    description="An API key from `POST /api/v1/api-keys` (admin), for systems. "
    "It may also be sent as `Authorization: Bearer <key>`.",
)


PASSWORD_HASHING = anyio.Semaphore(1)
"""One password hash or check at a time in each worker (one worker per core).

A bcrypt check at the production work factor is ~240 ms of CPU in a thread that also holds
a database connection. Without a limit, a burst of logins would take every thread of a worker
and leave the catalogue's reads waiting behind them; more checks at once than cores would not
finish any sooner either."""


async def password_hashing_slot() -> AsyncIterator[None]:
    """Wait in the event loop, holding no thread or connection, for this worker's
    password-hashing slot; keep it until the route's function returns."""
    async with PASSWORD_HASHING:
        yield


PasswordHashingSlot = Annotated[None, Depends(password_hashing_slot, scope="function")]
"""For routes that hash or check a password: login, sign-up, creating or changing a user."""


@lru_cache
def password_context() -> CryptContext:
    """bcrypt with the configured work factor (BCRYPT_ROUNDS; tests lower it)."""
    return CryptContext(schemes=["bcrypt"], bcrypt__rounds=get_settings().bcrypt_rounds)


def _hashable(password: str) -> bool:
    """Whether bcrypt can hash `password` whole: at most 72 bytes, and no NUL byte."""
    return len(password.encode()) <= BCRYPT_MAX_BYTES and "\0" not in password


def hash_password(password: str) -> str:
    """A salted bcrypt hash of `password`; over 72 bytes or a NUL byte is a ValueError (never
    truncated)."""
    if not _hashable(password):
        raise ValueError(
            f"password must be at most {BCRYPT_MAX_BYTES} bytes in UTF-8 and contain no NUL"
        )
    return password_context().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Whether `password` matches `password_hash`.

    No stored password is over 72 bytes or holds a NUL, so such a one never matches. It still
    costs a check (of a stand-in: bcrypt would compare only the first 72 bytes, and refuses a
    NUL), so timing does not tell it apart.
    """
    hashable = _hashable(password)
    matches = password_context().verify(password if hashable else "\1", password_hash)
    return matches and hashable


@lru_cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password-only-for-timing")


def find_user_by_name(session: Session, username: str) -> User | None:
    """The user with this name, compared ignoring case."""
    statement = select(User).where(func.lower(User.username) == username.lower())
    return session.scalars(statement).first()


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None.

    An unknown user costs a bcrypt check too, so timing does not tell which names exist.
    """
    user = find_user_by_name(session, username)
    if user is None:
        verify_password(password, _dummy_hash())
        return None
    if not verify_password(password, user.password_hash) or not user.is_active:
        return None
    return user


def create_access_token(user: User) -> tuple[str, int]:
    """A signed HS256 token for `user` and its lifetime in seconds."""
    lifetime = timedelta(minutes=get_settings().access_token_expire_minutes)
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "ver": user.token_version, "iat": now, "exp": now + lifetime}
    token = jwt.encode(claims, get_settings().secret_key, algorithm=JWT_ALGORITHM)
    return token, int(lifetime.total_seconds())


TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{0,512}")
"""Three base64url parts, each far longer than any token this app signs, yet too short for
JSON nested deep enough to exhaust the JWT library's recursion (a 5,000-deep header did)."""


def _read_token(token: str) -> tuple[int, int]:
    """The user id and token version of a valid token; 401 for any other."""
    if not TOKEN_SHAPE.fullmatch(token):
        raise Unauthorized("invalid or expired token")
    try:
        claims = jwt.decode(
            token,
            get_settings().secret_key,
            algorithms=[JWT_ALGORITHM],
            options={"require_exp": True, "require_iat": True, "require_sub": True},
        )
        user_id, version = int(claims["sub"]), claims["ver"]
        if not 1 <= user_id <= MAX_DB_INT:
            # Out of the id column's range: the database would refuse the lookup itself.
            raise ValueError("sub is not a user id")
        if type(version) is not int:
            raise TypeError("ver is not a whole number")
        return user_id, version
    except (JWTError, JWKError, ValueError, TypeError, KeyError) as error:
        raise Unauthorized("invalid or expired token") from error


USER_BY_ID = select(User.__table__, READ_FENCE).where(User.__table__.c.id == bindparam("user_id"))


def _load_user(user_id: int) -> tuple[User | None, int | None]:
    """The user as the primary has it now (a User outside any session, for reading), and
    their read fence (which replica may serve their reads, see `inventory.replica`).

    One statement in autocommit, on a connection handed back before the route runs: no
    transaction to begin and end, no connection held while the route waits for a thread, and
    no ORM session to set up and tear down on every request.
    """
    with get_autocommit_engine().connect() as connection:
        row = connection.execute(USER_BY_ID, {"user_id": user_id}).first()
    if row is None:
        return None, None
    columns = dict(row._mapping)
    fence = columns.pop("read_fence")
    return User(**columns), fence


def get_optional_user(
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> User | None:
    """The caller when a token or API key is sent (it must be valid), else None."""
    if api_key is None and token is not None and api_keys.looks_like_key(token):
        api_key = token
    if api_key is not None:
        return _user_of_api_key(request, api_key)
    if token is None:
        return None
    user_id, version = _read_token(token)
    user, request.state.read_fence = _load_user(user_id)
    if user is None or not user.is_active or user.token_version != version:
        raise Unauthorized("invalid or expired token")
    request.state.user_id = user.id
    return user


def _user_of_api_key(request: Request, key: str) -> User:
    user = api_keys.user_for_key(key)
    if user is None:
        raise Unauthorized("invalid or revoked API key")
    request.state.user_id = user.id
    return user


async def get_current_user(user: Annotated[User | None, Depends(get_optional_user)]) -> User:
    """The authenticated caller; 401 without a valid token."""
    if user is None:
        raise Unauthorized()
    return user


class RoleRequirement:
    """A dependency that lets only users with one of `roles` through (403 for the others).
    The API's routes document that 403 from it (`inventory.routing.ApiRoute`)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = roles
        self.refusal = f"this needs one of the roles: {', '.join(roles)}"

    async def __call__(self, user: Annotated[User, Depends(get_current_user)]) -> User:
        if user.role not in self.roles:
            raise Forbidden(self.refusal)
        return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]
CurrentUser = Annotated[User, Depends(get_current_user)]
ManagerDep = Annotated[User, Depends(RoleRequirement(Role.admin, Role.manager))]
AdminDep = Annotated[User, Depends(RoleRequirement(Role.admin))]
