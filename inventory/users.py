"""User rules: creating users, and never leaving the API without an active admin."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from inventory.auth import find_user_by_name, hash_password
from inventory.config import get_settings
from inventory.errors import Conflict, Forbidden, NotFound, flush_or_conflict
from inventory.events import changes, record_event
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


def _event_fields(user: User) -> dict[str, Any]:
    """What a user's events say of them: never the password or its hash."""
    return {"username": user.username, "role": user.role, "is_active": user.is_active}


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    is_active: bool = True,
    *,
    actor_user_id: int | None = None,
) -> User:
    """Insert a user with a hashed password; a taken name (ignoring case) is a 409. The event
    names `actor_user_id` as the actor, or the new user when they signed themselves up."""
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        is_active=is_active,
    )
    session.add(user)
    flush_or_conflict(session, f"username {username!r} is taken")
    actor = user.id if actor_user_id is None else actor_user_id
    record_event(session, "user.created", "user", user.id, _event_fields(user), actor)
    session.commit()
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


def update_user(
    session: Session, user_id: int, fields: dict[str, Any], actor_user_id: int | None
) -> User:
    """Change role, active flag or password; the last active admin cannot be demoted or disabled.
    A new password or active flag ends every token issued before. The `user.updated` event
    says that the password changed, never what it is."""
    user = get_user(session, user_id)
    loses_admin = fields.get("role", Role.admin) != Role.admin or fields.get("is_active") is False
    if user.role == Role.admin and user.is_active and loses_admin:
        _guard_last_admin(session, user)
    before = _event_fields(user)
    password = fields.pop("password", None)
    if password is not None:
        user.password_hash = hash_password(password)
    active = fields.get("is_active")
    if password is not None or (active is not None and active != user.is_active):
        user.token_version = User.token_version + 1  # ends every token issued before
    for name, value in fields.items():
        if value is not None:
            setattr(user, name, value)
    details = {
        "changes": changes(before, _event_fields(user)),
        "credentials_changed": bool(password),
    }
    record_event(session, "user.updated", "user", user_id, details, actor_user_id)
    session.commit()
    return user


def delete_user(session: Session, user_id: int, actor_user_id: int | None) -> None:
    """Delete a user; their stock movements stay, without a user."""
    user = get_user(session, user_id)
    if user.role == Role.admin and user.is_active:
        _guard_last_admin(session, user)
    record_event(session, "user.deleted", "user", user_id, _event_fields(user), actor_user_id)
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
    if created is not None:
        details = {"username": username, "role": Role.admin, "is_active": True}
        record_event(session, "user.created", "user", created.id, details, None)
    session.commit()
    return created is not None
