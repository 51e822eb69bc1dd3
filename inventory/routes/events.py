"""The audit trail (admin only)."""

from typing import Annotated

from fastapi import Query

from inventory import events
from inventory.auth import AdminDep
from inventory.db import SessionDep
from inventory.models import EventPage
from inventory.pagination import PageDep
from inventory.routing import ApiRouter

router = ApiRouter("/events", tag="events")


@router.get("", summary="List events")
def list_events(
    session: SessionDep,
    _: AdminDep,
    page: PageDep,
    query: Annotated[events.EventQuery, Query()],
) -> EventPage:
    """Every change (products, categories, users, stock, low-stock alerts, webhooks), newest
    first, each with who made it and in which request; an update's `data.changes` maps each
    changed field to [old, new]. With `after_id`, the events after that id, oldest first: a
    consumer that polls with the largest id it has seen gets every event once, in commit order."""
    return events.list_events(session, query, page)
