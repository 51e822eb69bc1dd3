"""Login throttling: failed logins are counted in PostgreSQL, per username and per client address.

The counts are shared by every worker and host. After LOGIN_MAX_FAILURES_PER_USERNAME failures for
a name (or LOGIN_MAX_FAILURES_PER_ADDRESS from one address) within LOGIN_FAILURE_WINDOW_SECONDS,
logins for it get 429 with `Retry-After`, even with the right password, until the window passes.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlmodel import Session

from inventory.config import get_settings
from inventory.errors import TooManyRequests
from inventory.models import LoginFailure

logger = logging.getLogger(__name__)


def _retry_after(session: Session, column, value: str, limit: int, since: datetime) -> int | None:
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.created_at)).where(
            column == value, LoginFailure.created_at > since
        )
    ).one()
    if count < limit:
        return None
    window = timedelta(seconds=get_settings().login_failure_window_seconds)
    return max(1, math.ceil((oldest + window - datetime.now(UTC)).total_seconds()))


LOGIN_LOCK_CLASS = 7_429
"""The first key of the per-username advisory locks, keeping them apart from any others."""


def check_login_allowed(session: Session, username: str, client_address: str) -> None:
    """Raise 429 with `Retry-After` when this username or address has failed too often.

    Locks the username until the transaction ends (the attempt is recorded or forgiven), so
    parallel guesses are counted one after another instead of all passing this check at once.
    """
    session.execute(
        select(func.pg_advisory_xact_lock(LOGIN_LOCK_CLASS, func.hashtext(username.lower())))
    )
    settings = get_settings()
    since = datetime.now(UTC) - timedelta(seconds=settings.login_failure_window_seconds)
    checks = (
        (
            LoginFailure.username,
            username.lower(),
            settings.login_max_failures_per_username,
        ),
        (
            LoginFailure.client_address,
            client_address,
            settings.login_max_failures_per_address,
        ),
    )
    for column, value, limit in checks:
        retry_after = _retry_after(session, column, value, limit, since)
        if retry_after is not None:
            logger.warning("login throttled for %s=%r", column.key, value)
            raise TooManyRequests(
                "too many failed logins; try again later", retry_after=retry_after
            )


def record_login_failure(session: Session, username: str, client_address: str) -> None:
    """Count a failed login and drop failures older than the window."""
    window = timedelta(seconds=get_settings().login_failure_window_seconds)
    session.execute(delete(LoginFailure).where(LoginFailure.created_at < func.now() - window))
    session.add(LoginFailure(username=username.lower()[:255], client_address=client_address))
    session.commit()


def clear_login_failures(session: Session, username: str) -> None:
    """A successful login forgives the username's earlier failures."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == username.lower()))
    session.commit()
