"""Sign-up, login and the current user."""

from typing import Annotated

from fastapi import Depends, Form, Request, Response
from pydantic import BaseModel, Field

from inventory import refresh_tokens
from inventory.auth import (
    CurrentUser,
    OptionalUser,
    PasswordHashingSlot,
    authenticate,
    create_access_token,
)
from inventory.db import SessionDep
from inventory.errors import Invalid, Unauthorized, error_doc, invalid_doc
from inventory.models import WITHOUT_NUL, RefreshRequest, Role, User, UserRead, UserRegister
from inventory.routing import ApiRouter
from inventory.throttle import (
    check_login_allowed,
    clear_login_failures,
    count_login_attempt,
)
from inventory.users import check_may_register, create_user

router = ApiRouter("/auth", tag="auth", public=True)

BAD_TOKEN = error_doc(401, "The token sent is invalid or expired.", "invalid or expired token")


class LoginForm(BaseModel):
    """The OAuth2 password form; other OAuth2 fields (grant_type, scope) are accepted and unused."""

    username: Annotated[str, Field(max_length=255, examples=["alice"]), WITHOUT_NUL]
    password: str = Field(max_length=1024, examples=["correct-horse-42"])


class Token(BaseModel):
    """A bearer token for the `Authorization` header."""

    access_token: str = Field(examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."])
    token_type: str = Field(default="bearer", examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires.", examples=[1800])
    refresh_token: str = Field(
        description="Trade it at `POST /api/v1/auth/refresh` for a new pair; it works once.",
        examples=["3q2-7wK9xZbTn4Vd8sQe1LmP0rYc6uJh5gFa2kWo9iE"],
    )


@router.post(
    "/register",
    status_code=201,
    summary="Sign up",
    # The token is optional (an admin's lets them choose a role): `{}` says "or none".
    openapi_extra={"security": [{}]},
    responses=BAD_TOKEN
    | error_doc(
        403,
        "A role was asked for by someone other than an admin, or sign-up is closed.",
        "only an admin may choose a role",
    )
    | error_doc(409, "The username is taken (ignoring case).", "username 'alice' is taken")
    | invalid_doc(
        "The request does not fit the schema.",
        "body.password: String should have at least 8 characters",
    ),
)
def register(
    body: UserRegister,
    session: SessionDep,
    caller: OptionalUser,
    request: Request,
    response: Response,
    _: PasswordHashingSlot,
) -> UserRead:
    """Create a user. Open sign-up makes a `viewer`; a `role` is honoured only when an
    authenticated admin sends it (anyone else gets 403 and nothing is created). With
    `OPEN_SIGNUP=false` only an admin may register users (403 for anyone else).
    Usernames are unique ignoring case (409)."""
    check_may_register(caller, body.role)
    actor = caller.id if caller is not None else None
    user = create_user(
        session, body.username, body.password, body.role or Role.viewer, actor_user_id=actor
    )
    response.headers["Location"] = request.app.url_path_for("get_user", user_id=user.id)
    return UserRead.model_validate(user, from_attributes=True)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NOT_A_FORM = (
    "log in with a form, not JSON: send Content-Type: application/x-www-form-urlencoded "
    "with the fields username and password"
)


def require_form(request: Request) -> None:
    """Say what login takes when it gets something else (JSON above all), instead of
    "Field required" for fields the caller did send. Runs before the form is validated."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        raise Invalid(NOT_A_FORM, loc=("body",))


@router.post(
    "/login",
    summary="Log in for a bearer token",
    dependencies=[Depends(require_form)],
    responses=error_doc(401, "Wrong username or password.", "incorrect username or password")
    | invalid_doc("The form does not fit, or the body is not a form.", NOT_A_FORM)
    | error_doc(
        429,
        "Too many failed logins; retry after `Retry-After` seconds.",
        "too many failed logins; try again later",
    )
    | error_doc(
        503,
        "The login could not be counted (the database is unavailable); retry after "
        "`Retry-After` seconds.",
        "logins are unavailable; try again shortly",
    ),
)
def login(
    form: Annotated[LoginForm, Form()],
    session: SessionDep,
    request: Request,
    _: PasswordHashingSlot,
) -> Token:
    """The OAuth2 password flow (form fields `username` and `password`), as used by the
    Authorize button in /docs. Wrong credentials give 401; after repeated failures the
    username or client address is throttled with 429 and `Retry-After`. A login that cannot
    be counted fails with 503."""
    address = request.client.host if request.client else "unknown"
    check_login_allowed(session, form.username, address)
    count_login_attempt(session, form.username, address)
    user = authenticate(session, form.username, form.password)
    if user is None:
        session.commit()  # the attempt stays counted
        raise Unauthorized("incorrect username or password")
    clear_login_failures(session, form.username)
    request.state.user_id = user.id
    refresh_token = refresh_tokens.issue(session, user)
    session.commit()
    return _token_pair(user, refresh_token)


def _token_pair(user: User, refresh_token: str) -> Token:
    token, expires_in = create_access_token(user)
    return Token(access_token=token, expires_in=expires_in, refresh_token=refresh_token)


REFRESH_REFUSED = "invalid, expired or reused refresh token"


@router.post(
    "/refresh",
    summary="Trade a refresh token for new tokens",
    responses=error_doc(
        401, "The refresh token is unknown, expired, used, or revoked.", REFRESH_REFUSED
    )
    | invalid_doc("The body does not fit.", "body.refresh_token: Field required"),
)
def refresh(body: RefreshRequest, session: SessionDep, request: Request) -> Token:
    """A new access token and a new refresh token; the one sent stops working. Sending a
    refresh token that was used already revokes every token of its login (someone kept a copy):
    401, and log in again. A disabled or deleted user, a changed password, an expired or
    revoked token: 401."""
    try:
        user, refresh_token = refresh_tokens.rotate(session, body.refresh_token)
    except refresh_tokens.RefreshRefusedError:
        raise Unauthorized(REFRESH_REFUSED) from None
    request.state.user_id = user.id
    return _token_pair(user, refresh_token)


@router.post(
    "/logout",
    status_code=204,
    summary="Log out",
    responses=invalid_doc("The body does not fit.", "body.refresh_token: Field required"),
)
def logout(body: RefreshRequest, session: SessionDep) -> Response:
    """The refresh token, and every other of the same login, stops working. The access token
    still works until it expires (`expires_in`)."""
    refresh_tokens.revoke(session, body.refresh_token)
    return Response(status_code=204)


@router.get(
    "/me",
    summary="Who am I?",
    responses=error_doc(401, "Missing, invalid or expired token.", "not authenticated"),
)
def me(user: CurrentUser) -> UserRead:
    """The user the token belongs to."""
    return UserRead.model_validate(user, from_attributes=True)
