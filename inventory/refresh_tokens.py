"""Refresh tokens: a person stays logged in without sending their password every 30 minutes.

Login starts a family with one token. `refresh` marks the token used and gives the next one of
the family (rotation); a used token presented again means that someone kept a copy, so the
whole family is revoked and both the thief and the owner log in again. `logout` revokes the
family. Tokens are 256-bit random values stored only as SHA-256 (see `inventory.api_keys`), and
die with their user's deletion or a change of their password or active flag (each token keeps
the user's token version it was issued under).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlmodel import Session

from inventory.api_keys import hash_secret
from inventory.config import get_settings
from inventory.models import RefreshToken, User


class RefreshRefusedError(Exception):
    """The refresh token is unknown, expired, used, revoked, or its user may not log in."""


def issue(session: Session, user: User, family_id: uuid.UUID | None = None) -> str:
    """Add a token of `user` to `family_id` (a new family when None) and return it; the caller
    commits."""
    token = secrets.token_urlsafe(32)
    lifetime = timedelta(days=get_settings().refresh_token_expire_days)
    session.add(
        RefreshToken(
            family_id=family_id or uuid.uuid4(),
            token_hash=hash_secret(token),
            user_id=user.id,
            token_version=user.token_version,
            expires_at=datetime.now(UTC) + lifetime,
        )
    )
    return token


def rotate(session: Session, token: str) -> tuple[User, str]:
    """Use `token` once: its user and the family's next token. A token used before revokes its
    family (committed) and, like any other refused token, raises RefreshRefusedError."""
    token_hash = hash_secret(token)
    claimed = session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > func.now(),
        )
        .values(used_at=func.now())
        .returning(RefreshToken.user_id, RefreshToken.family_id, RefreshToken.token_version)
    ).first()
    if claimed is None:
        _revoke_family_of_reused(session, token_hash)
        raise RefreshRefusedError
    user = session.get(User, claimed.user_id)
    if user is None or not user.is_active or claimed.token_version != user.token_version:
        session.rollback()
        raise RefreshRefusedError
    next_token = issue(session, user, claimed.family_id)
    session.commit()
    return user, next_token


def _revoke_family_of_reused(session: Session, token_hash: str) -> None:
    reused_family = (
        select(RefreshToken.family_id)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_not(None))
        .scalar_subquery()
    )
    _revoke_family(session, reused_family)


def revoke(session: Session, token: str) -> None:
    """Log out: revoke the family of `token` (nothing happens for an unknown token)."""
    family = (
        select(RefreshToken.family_id)
        .where(RefreshToken.token_hash == hash_secret(token))
        .scalar_subquery()
    )
    _revoke_family(session, family)


def _revoke_family(session: Session, family: object) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    session.commit()
