"""A 422 stays small whatever it answers (issue 12 finding 5): at most 50 errors are listed,
and no part of the input is echoed beyond a few hundred characters."""

import json

import pytest

REGISTER = "/api/v1/auth/register"
ECHO_LIMIT = 300  # "a few hundred characters"


def test_a_body_of_thousands_of_unknown_keys_lists_50_errors_and_counts_the_rest(client):
    body = {f"unknown-key-{number:06d}": number for number in range(28_000)}
    raw = json.dumps(body)
    assert len(raw) > 600_000
    response = client.post(REGISTER, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    answer = response.json()
    assert len(answer["errors"]) == 50
    assert answer["detail"].endswith(f"and {28_002 - 50} more")
    assert len(response.content) < 20_000


@pytest.mark.parametrize(
    "body",
    [
        {"k" * 100_000: 1, "username": "alice", "password": "long-enough"},
        {"username": "u" * 100_000, "password": "long-enough"},
        {"username": "alice", "password": "p" * 100_000},
        {"username": "alice", "password": "long-enough", "role": "r" * 100_000},
        {"username": ["x" * 50_000] * 10, "password": "long-enough"},
    ],
    ids=["a long key", "a long username", "a long password", "a long enum value", "a long list"],
)
def test_no_part_of_the_input_is_echoed_beyond_a_few_hundred_characters(client, db, body):
    response = client.post(REGISTER, json=body)
    assert response.status_code == 422
    for letter in "kuprx":
        assert letter * ECHO_LIMIT not in response.text
    assert len(response.content) < 4_000


def test_a_small_422_still_names_the_field_and_the_problem(client):
    response = client.post(REGISTER, json={"username": "alice"})
    assert response.status_code == 422
    answer = response.json()
    assert answer["detail"] == "body.password: Field required"
    assert answer["errors"] == [
        {"loc": ["body", "password"], "msg": "Field required", "type": "missing"}
    ]
