"""User rules: creating users, and never leaving the API without an active admin."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from inventory.auth import find_user_by_name, hash_password
from inventory.config import get_settings
from inventory.errors import Conflict, Forbidden, NotFound, commit_or_conflict
from inventory.models import Role, User, UserRegister


def check_may_register(caller: User | None, role: Role | None) -> None:
    """An admin may register anyone with any role. Anyone else may only sign themselves up,
    as a viewer, and only while OPEN_SIGNUP is on (403 otherwise)."""
    if caller is not None and caller.role == Role.admin:
        return
    if role is not None:
        raise Forbidden("only an admin may choose a role")
    if not get_settings().open_signup:
        raise Forbidden("sign-up is closed: ask an admin for an account")


def create_user(
    session: Session, username: str, password: str, role: Role, is_active: bool = True
) -> User:
    """Insert a user with a hashed password; a taken name (ignoring case) is a 409."""
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        is_active=is_active,
    )
    session.add(user)
    commit_or_conflict(session, f"username {username!r} is taken")
    return user


def get_user(session: Session, user_id: int) -> User:
    """The user, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def _guard_last_admin(session: Session, user: User) -> None:
    """409 if `user` is the only active admin. Locks the admins so two requests cannot race."""
    admin_ids = session.scalars(
        select(User.id).where(User.role == Role.admin, User.is_active).with_for_update()
    ).all()
    if admin_ids == [user.id]:
        session.rollback()
        raise Conflict("this is the last active admin; make another admin first")


def update_user(session: Session, user_id: int, changes: dict[str, Any]) -> User:
    """Change role, active flag or password; the last active admin cannot be demoted or disabled."""
    user = get_user(session, user_id)
    loses_admin = changes.get("role", Role.admin) != Role.admin or changes.get("is_active") is False
    if user.role == Role.admin and user.is_active and loses_admin:
        _guard_last_admin(session, user)
    password = changes.pop("password", None)
    if password is not None:
        user.password_hash = hash_password(password)
        user.credentials_changed_at = func.now()  # ends the tokens issued before
    for name, value in changes.items():
        if value is not None:
            setattr(user, name, value)
    session.commit()
    return user


def delete_user(session: Session, user_id: int) -> None:
    """Delete a user; their stock movements stay, without a user."""
    user = get_user(session, user_id)
    if user.role == Role.admin and user.is_active:
        _guard_last_admin(session, user)
    session.delete(user)
    session.commit()


def check_credentials(username: str, password: str) -> None:
    """Raise ValueError, saying what is wrong, unless these make a valid user."""
    try:
        UserRegister.model_validate({"username": username, "password": password})
    except ValidationError as error:
        first = error.errors()[0]
        raise ValueError(f"{first['loc'][0]}: {first['msg']}") from None


def ensure_admin(session: Session, username: str, password: str) -> bool:
    """Create the admin `username` unless a user of that name exists; True when created.

    Safe when several workers start at once: the unique index decides, the others do nothing.
    """
    check_credentials(username, password)
    if find_user_by_name(session, username) is not None:
        return False
    created = session.execute(
        insert(User)
        .values(username=username, password_hash=hash_password(password), role=Role.admin)
        .on_conflict_do_nothing()
        .returning(User.id)
    ).first()
    session.commit()
    return created is not None
