"""Property-based fuzzing of every operation from the app's own OpenAPI schema (schemathesis).

Runs as admin, manager and viewer in turn, first every operation on its own, then sequences of
operations chained by the links schemathesis infers from the schema (the stateful phase). No
5xx, and every answer matches its documented status codes, content type and schema.
Derandomized, so a failure reproduces run after run. FUZZ_EXAMPLES sets how many examples each
operation gets and FUZZ_SEQUENCES how many sequences the stateful phase runs (CI: the small
defaults; `make fuzz-long` runs it for 10 minutes with fresh seeds).
"""

import os
from dataclasses import dataclass
from typing import ClassVar
from uuid import uuid4

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, text
from sqlmodel import Session

from inventory.main import app
from inventory.models import Role, User
from inventory.users import create_user
from tests.conftest import MAIN_LOCATION, PASSWORD, TABLES, auth_headers

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
SEQUENCES = int(os.environ.get("FUZZ_SEQUENCES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
"""Not `positive_data_acceptance`: a valid request may still be refused by a business rule
(not enough stock, a stale If-Match, a taken name, a role)."""

schema = schemathesis.openapi.from_asgi("/openapi.json", app)
FUZZ_SETTINGS = settings(
    # Derandomized unless a seed is given (`bench/fuzz.py` runs fresh seeds round after round).
    derandomize="FUZZ_SEED" not in os.environ,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@dataclass
class Caller:
    """A user of one role, in a world of a seed admin, a category and a product.

    A fuzzed call may delete, disable or demote the caller, or change its password (which ends
    its tokens): every later call would only test the 401 or 403. So before each call the
    caller is put back as it was (behind the API's back) and gets a fresh token.
    """

    role: Role
    client: TestClient
    engine: Engine
    user: User | None = None

    def reset(self) -> None:
        """Empty every table, then make the caller and the seed data again (the ids restart),
        so each stateful sequence starts from the same state: Hypothesis replays sequences and
        needs the same answers to the same calls."""
        with self.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
            connection.execute(text(MAIN_LOCATION))
        with Session(self.engine, expire_on_commit=False) as session:
            self.user = create_user(session, f"fuzz-{self.role.value}", PASSWORD, self.role)
            seed = auth_headers(create_user(session, "fuzz-seed", PASSWORD, Role.admin))
        self.client.post("/api/v1/categories", json={"name": "Fuzz"}, headers=seed)
        self.client.post(
            "/api/v1/products",
            json={"name": "Fuzz", "price": "1.00", "stock_quantity": 3, "category_ids": [1]},
            headers=seed,
        )

    def headers(self) -> dict[str, str]:
        """The caller's headers, the caller restored first."""
        with Session(self.engine, expire_on_commit=False) as session:
            user = session.get(User, self.user.id)
            if user is None:
                name = f"fuzz-{self.role.value}-{uuid4().hex[:8]}"
                user = create_user(session, name, PASSWORD, self.role)
            elif not user.is_active or user.role != self.role:
                user.is_active, user.role = True, self.role
                session.commit()
            self.user = user
            return auth_headers(user)


@pytest.fixture(params=[Role.admin, Role.manager, Role.viewer], ids=lambda role: role.value)
def caller(request, client, engine) -> Caller:
    """A caller of each role, and its world."""
    fuzzing = Caller(request.param, client, engine)
    fuzzing.reset()
    return fuzzing


@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=EXAMPLES)
def test_no_operation_fails_or_breaks_its_contract(case, caller):
    case.call_and_validate(headers=caller.headers(), checks=CHECKS)


class Workflows(schema.as_state_machine()):
    """Sequences of calls as one caller, each answer checked like a single call's."""

    caller: ClassVar[Caller]

    def setup(self) -> None:
        type(self).caller.reset()

    def get_call_kwargs(self, case) -> dict:
        return {"headers": type(self).caller.headers()}

    def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
        case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)


def test_no_sequence_of_operations_fails_or_breaks_the_contract(caller):
    as_caller = type("WorkflowsOfOneCaller", (Workflows,), {"caller": caller})
    as_caller.run(settings=settings(FUZZ_SETTINGS, max_examples=SEQUENCES, stateful_step_count=6))
