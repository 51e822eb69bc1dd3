"""User administration (admin only)."""

from fastapi import Request, Response
from sqlalchemy import select

from inventory import users
from inventory.auth import AdminDep, PasswordHashingSlot
from inventory.db import SessionDep
from inventory.errors import error_doc
from inventory.models import User, UserCreate, UserPage, UserRead, UserUpdate
from inventory.pagination import PageDep, paginate
from inventory.routing import ApiRouter, IdPath

router = ApiRouter("/users", tag="users")

NO_USER = error_doc(404, "No such user.", "user 42 not found")
NAME_TAKEN = error_doc(409, "The username is taken (ignoring case).", "username 'alice' is taken")
LAST_ADMIN = error_doc(
    409,
    "This is the last active admin.",
    "this is the last active admin; make another admin first",
)


@router.get("", summary="List users")
def list_users(session: SessionDep, _: AdminDep, page: PageDep) -> UserPage:
    """All users, oldest first."""
    return paginate(session, select(User), page, UserPage, User.id)


@router.post("", status_code=201, summary="Create a user with any role", responses=NAME_TAKEN)
def create_user(
    body: UserCreate,
    session: SessionDep,
    admin: AdminDep,
    request: Request,
    response: Response,
    __: PasswordHashingSlot,
) -> UserRead:
    """Create a user with the given role. Usernames are unique ignoring case (409)."""
    user = users.create_user(
        session, body.username, body.password, body.role, body.is_active, actor_user_id=admin.id
    )
    response.headers["Location"] = request.app.url_path_for("get_user", user_id=user.id)
    return UserRead.model_validate(user, from_attributes=True)


@router.get("/{user_id}", summary="Get a user", responses=NO_USER)
def get_user(user_id: IdPath, session: SessionDep, _: AdminDep) -> UserRead:
    """One user."""
    return UserRead.model_validate(users.get_user(session, user_id), from_attributes=True)


@router.patch("/{user_id}", summary="Change a user", responses=NO_USER | LAST_ADMIN)
def update_user(
    user_id: IdPath,
    body: UserUpdate,
    session: SessionDep,
    admin: AdminDep,
    __: PasswordHashingSlot,
) -> UserRead:
    """Change role, active flag or password. Takes effect at once, also for tokens already
    issued. The last active admin cannot be demoted or disabled (409)."""
    user = users.update_user(session, user_id, body.model_dump(), admin.id)
    return UserRead.model_validate(user, from_attributes=True)


@router.delete(
    "/{user_id}", status_code=204, summary="Delete a user", responses=NO_USER | LAST_ADMIN
)
def delete_user(user_id: IdPath, session: SessionDep, admin: AdminDep) -> Response:
    """Delete a user; their tokens stop working. The last active admin cannot be deleted (409).
    Stock movements they made stay in the ledger without a user."""
    users.delete_user(session, user_id, admin.id)
    return Response(status_code=204)
