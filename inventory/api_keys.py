"""API keys: how a system (a storefront, an order service) calls the API without a person's
password.

A key is `inv_` and 43 characters of a 256-bit random value. Only its SHA-256 is stored, and a
request's key is found by that digest through a unique index: one indexed read per request, on
every worker, so a revoked key stops working at once everywhere.

Why a fast hash and not bcrypt: bcrypt's slowness protects secrets a person can guess (a
password); nobody can guess or search 2^256 random values, fast hash or not. bcrypt would cost
~240 ms of CPU on every request a key makes, and its salt would rule out the indexed lookup.
Why no pepper (HMAC keyed with SECRET_KEY): it adds nothing against a 2^256 search, and it
would tie every system's key to SECRET_KEY, so rotating the secret would silently break every
integration.

A key acts for the admin who made it (stock movements and idempotency keys are theirs), with
the key's role, never more than that admin's current role; disabling the admin stops their keys
and deleting the admin deletes them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlmodel import Session

from inventory.db import get_autocommit_engine
from inventory.errors import NotFound
from inventory.events import record_event
from inventory.models import ApiKey, Role, User

KEY_PREFIX = "inv_"
SHOWN_PREFIX_LENGTH = 11
"""`inv_` and 7 characters: enough to tell keys apart in a list, far too few to guess the rest."""
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""`last_used_at` is written at most once a minute per key, not on every request."""
ROLE_RANK = {Role.viewer: 0, Role.manager: 1, Role.admin: 2}


def hash_secret(secret: str) -> str:
    """The stored form of a random secret (an API key or a refresh token): SHA-256 in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(credential: str) -> bool:
    """Whether a bearer credential is an API key rather than a JWT."""
    return credential.startswith(KEY_PREFIX)


def create_key(session: Session, name: str, role: Role, creator: User) -> tuple[ApiKey, str]:
    """Store a new key for `creator` and return it with its secret (shown once, never stored)."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        role=role,
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        key_hash=hash_secret(secret),
        user_id=creator.id,
    )
    session.add(key)
    session.flush()
    details = {"name": name, "role": role, "prefix": key.prefix}
    record_event(session, "api_key.created", "api_key", key.id, details, creator.id)
    session.commit()
    session.refresh(key)
    return key, secret


def get_key(session: Session, key_id: int) -> ApiKey:
    """The key, or 404."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("API key", key_id)
    return key


def revoke_key(session: Session, key_id: int, actor_user_id: int | None) -> None:
    """Revoke the key from now on (again: nothing changes); 404 if there is no such key."""
    revoked = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .values(revoked_at=func.coalesce(ApiKey.revoked_at, func.now()))
        .returning(ApiKey.name, (ApiKey.revoked_at == func.now()).label("just_now"))
    ).first()
    if revoked is not None and revoked.just_now:
        record_event(
            session, "api_key.revoked", "api_key", key_id, {"name": revoked.name}, actor_user_id
        )
    session.commit()
    if revoked is None:
        raise NotFound("API key", key_id)


_keys, _users = ApiKey.__table__, User.__table__
KEY_LOOKUP = (
    select(
        _keys.c.id.label("key_id"),
        _keys.c.role.label("key_role"),
        _keys.c.last_used_at,
        *_users.columns,
    )
    .join(_users, _users.c.id == _keys.c.user_id)
    .where(_keys.c.key_hash == bindparam("key_hash"), _keys.c.revoked_at.is_(None))
)
TOUCH_KEY = (
    update(_keys)
    .where(
        _keys.c.id == bindparam("key_id"),
        or_(
            _keys.c.last_used_at.is_(None),
            _keys.c.last_used_at < func.now() - LAST_USED_RESOLUTION,
        ),
    )
    .values(last_used_at=func.now())
)


def user_for_key(secret: str) -> User | None:
    """The user a live key acts for, with the key's role (capped by theirs), or None.

    Records the use when the last record is over a minute old; the UPDATE re-checks that in
    SQL, so workers racing on one key write it once.
    """
    with get_autocommit_engine().connect() as connection:
        row = connection.execute(KEY_LOOKUP, {"key_hash": hash_secret(secret)}).first()
        if row is None:
            return None
        if _needs_touch(row.last_used_at):
            connection.execute(TOUCH_KEY, {"key_id": row.key_id})
    return _acting_user(row._mapping)


def _needs_touch(last_used_at: datetime | None) -> bool:
    return last_used_at is None or datetime.now(UTC) - last_used_at >= LAST_USED_RESOLUTION


def _acting_user(row: Any) -> User | None:
    user = User(**{column.name: row[column.name] for column in _users.columns})
    if not user.is_active:
        return None
    key_role = Role(row["key_role"])
    user.role = min(Role(user.role), key_role, key=ROLE_RANK.__getitem__)
    return user
