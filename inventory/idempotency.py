"""Requests applied at most once per (user, `Idempotency-Key`) within 24 hours.

The key's row is inserted in the request's own transaction, before the change: a concurrent
retry with the same key waits on it, then answers with the stored result. A failed request
rolls its key back with everything else, so it may be retried.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header
from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from inventory.errors import Invalid
from inventory.models import IdempotencyKey

KEY_LIFETIME = timedelta(hours=24)
KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,200}$"

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        pattern=KEY_PATTERN,
        description="Any unique string per change; a retry with the same key returns the "
        "first result instead of applying the change again (kept 24 hours, per user).",
    ),
]


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer given to a key: its status and its JSON body, byte for byte."""

    status_code: int
    body_json: str


def fingerprint(*request: Any) -> str:
    """A digest of what a request asks for, to refuse a key reused for another request."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def claim(
    session: Session, user_id: int, key: str, request_fingerprint: str
) -> StoredAnswer | None:
    """Claim the key for this request (None: go ahead, then `remember` the answer), or the
    answer stored for its first use (the transaction is then rolled back)."""
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.created_at < func.now() - KEY_LIFETIME,
        )
    )
    while not _insert_key(session, user_id, key, request_fingerprint):
        stored = session.get(IdempotencyKey, (user_id, key), populate_existing=True)
        if stored is not None:  # else its first request failed and released it: claim it
            session.rollback()
            if stored.request_fingerprint != request_fingerprint:
                raise Invalid(
                    "this Idempotency-Key was used for a different request",
                    loc=("header", "idempotency-key"),
                )
            return StoredAnswer(stored.status_code, stored.response_body)
    return None


def remember(session: Session, user_id: int, key: str, status_code: int, body_json: str) -> None:
    """Store the answer (its JSON text) of a claimed key, in the request's transaction."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .values(status_code=status_code, response_body=body_json)
    )


def _insert_key(session: Session, user_id: int, key: str, request_fingerprint: str) -> bool:
    claimed = session.execute(
        insert(IdempotencyKey)
        .values(
            user_id=user_id,
            key=key,
            request_fingerprint=request_fingerprint,
            status_code=0,
            response_body="",
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    ).first()
    return claimed is not None
