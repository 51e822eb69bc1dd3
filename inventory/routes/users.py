"""User administration (admin only)."""

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select

from inventory import users
from inventory.auth import AdminDep, PasswordHashingSlot
from inventory.db import SessionDep
from inventory.http import (
    API_PREFIX,
    CONFLICT,
    NOT_FOUND,
    PROTECTED,
    ApiRoute,
    IdPath,
    PageDep,
    page_body,
    page_of,
)
from inventory.models import User, UserCreate, UserRead, UserUpdate

router = APIRouter(
    prefix=f"{API_PREFIX}/users", tags=["users"], route_class=ApiRoute, responses=PROTECTED
)
UserPage = page_of(UserRead)


@router.get("", summary="List users")
def list_users(session: SessionDep, _: AdminDep, page: PageDep) -> UserPage:
    """All users, oldest first."""
    total = session.scalar(select(func.count()).select_from(User))
    items = session.scalars(select(User).order_by(User.id).limit(page.limit).offset(page.offset))
    return page_body(list(items), total or 0, page)


@router.post("", status_code=201, summary="Create a user with any role", responses=CONFLICT)
def create_user(
    body: UserCreate,
    session: SessionDep,
    _: AdminDep,
    request: Request,
    response: Response,
    __: PasswordHashingSlot,
) -> UserRead:
    """Create a user with the given role. Usernames are unique ignoring case (409)."""
    user = users.create_user(session, body.username, body.password, body.role, body.is_active)
    response.headers["Location"] = str(request.url_for("get_user", user_id=user.id))
    return user


@router.get("/{user_id}", summary="Get a user", responses=NOT_FOUND)
def get_user(user_id: IdPath, session: SessionDep, _: AdminDep) -> UserRead:
    """One user."""
    return users.get_user(session, user_id)


@router.patch("/{user_id}", summary="Change a user", responses=NOT_FOUND | CONFLICT)
def update_user(
    user_id: IdPath,
    body: UserUpdate,
    session: SessionDep,
    _: AdminDep,
    __: PasswordHashingSlot,
) -> UserRead:
    """Change role, active flag or password. Takes effect at once, also for tokens already
    issued. The last active admin cannot be demoted or disabled (409)."""
    return users.update_user(session, user_id, body.model_dump(exclude_unset=True))


@router.delete(
    "/{user_id}",
    status_code=204,
    summary="Delete a user",
    responses=NOT_FOUND | CONFLICT,
)
def delete_user(user_id: IdPath, session: SessionDep, _: AdminDep) -> Response:
    """Delete a user; their tokens stop working. The last active admin cannot be deleted (409).
    Stock movements they made stay in the ledger without a user."""
    users.delete_user(session, user_id)
    return Response(status_code=204)
