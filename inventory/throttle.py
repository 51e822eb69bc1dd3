"""Login throttling: failed logins are counted in PostgreSQL, per username and per client address.

The counts are shared by every worker and host. After LOGIN_MAX_FAILURES_PER_USERNAME failures for
a name (or LOGIN_MAX_FAILURES_PER_ADDRESS from one address) within LOGIN_FAILURE_WINDOW_SECONDS,
logins for it get 429 with `Retry-After`, even with the right password, until the window passes.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from inventory.config import get_settings
from inventory.errors import TooManyRequests, Unavailable
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


ADDRESS_MAX_LENGTH = LoginFailure.__table__.c.client_address.type.length


def address_key(address: str) -> str:
    """The client address as failures are counted by: an IP address in its canonical form (so
    spellings of one address count together), other short printable text as it is, and
    anything else (a long or odd forwarded value) as a hash that fits the column."""
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(address).compressed
    if len(address) <= ADDRESS_MAX_LENGTH and address.isascii() and address.isprintable():
        return address
    digest = hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest[: ADDRESS_MAX_LENGTH - len('sha256:')]}"


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
            address_key(client_address),
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


def count_login_attempt(session: Session, username: str, client_address: str) -> None:
    """Count this login as a failure before its password is checked, and drop failures older
    than the window. A success forgives it (`clear_login_failures`); a failure commits it.

    Counting first means no guess is ever answered unless it is counted: if the count cannot
    be stored, the login fails with 503 and the password is not checked at all.
    """
    window = timedelta(seconds=get_settings().login_failure_window_seconds)
    try:
        session.execute(delete(LoginFailure).where(LoginFailure.created_at < func.now() - window))
        session.execute(
            insert(LoginFailure).values(
                username=username.lower()[:255], client_address=address_key(client_address)
            )
        )
    except SQLAlchemyError as error:
        session.rollback()
        logger.error("a login could not be counted: %s", type(error).__name__)
        raise Unavailable(
            "logins are unavailable; try again shortly", headers={"Retry-After": "5"}
        ) from error


def clear_login_failures(session: Session, username: str) -> None:
    """A successful login forgives the username's earlier failures."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == username.lower()))
    session.commit()
