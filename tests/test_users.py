"""User administration (issue 3 point 7): admins manage users; changes bite at once."""

import pytest

from inventory.auth import verify_password
from inventory.models import Role, User
from tests.conftest import PASSWORD, auth_headers
from tests.factories import bearer, count, log_in, stored_user

USERS = "/api/v1/users"
ME = "/api/v1/auth/me"
USER_FIELDS = {"id", "username", "role", "is_active", "created_at"}


def snapshot(db, user_id: int) -> tuple:
    """Everything about a user that a request could change."""
    user = stored_user(db, user_id)
    return (user.username, user.role, user.is_active, user.password_hash, user.created_at)


# --- list ------------------------------------------------------------------------------------


def test_admin_lists_users_in_a_page_envelope(client, admin, make_user):
    make_user(Role.manager, "bob")
    make_user(Role.viewer, "carol")
    response = client.get(USERS, headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "limit", "offset"}
    assert body["total"] == 3
    assert (body["limit"], body["offset"]) == (50, 0)
    assert [user["username"] for user in body["items"]] == ["admin", "bob", "carol"]
    assert all(set(user) == USER_FIELDS for user in body["items"])
    assert "password" not in response.text


def test_the_user_list_pages_with_limit_and_offset(client, admin, make_user):
    for name in ("bob", "carol", "dave"):
        make_user(username=name)
    response = client.get(USERS, params={"limit": 2, "offset": 1}, headers=admin)
    body = response.json()
    assert body["total"] == 4
    assert (body["limit"], body["offset"]) == (2, 1)
    assert [user["username"] for user in body["items"]] == ["bob", "carol"]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "many"}]
)
def test_out_of_range_paging_is_refused_not_clamped(client, admin, params):
    response = client.get(USERS, params=params, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("query.")


def test_the_largest_page_is_allowed(client, admin):
    response = client.get(USERS, params={"limit": 200}, headers=admin)
    assert response.status_code == 200
    assert response.json()["limit"] == 200


# --- create / read ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "manager", "viewer"])
def test_admin_creates_a_user_with_any_role(client, db, admin, role):
    response = client.post(
        USERS, json={"username": "bob", "password": PASSWORD, "role": role}, headers=admin
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["role"] == role
    assert response.headers["Location"].endswith(f"{USERS}/{body['id']}")
    assert stored_user(db, body["id"]).role == Role(role)
    assert log_in(client, "bob").status_code == 200


def test_admin_may_create_a_disabled_user(client, db, admin):
    response = client.post(
        USERS,
        json={"username": "bob", "password": PASSWORD, "role": "viewer", "is_active": False},
        headers=admin,
    )
    assert response.status_code == 201
    assert stored_user(db, response.json()["id"]).is_active is False
    assert log_in(client, "bob").status_code == 401


def test_creating_a_taken_username_is_a_conflict(client, db, admin, make_user):
    make_user(username="bob")
    response = client.post(
        USERS, json={"username": "Bob", "password": PASSWORD, "role": "admin"}, headers=admin
    )
    assert response.status_code == 409
    assert count(db, User) == 2


def test_creating_a_user_with_a_too_long_password_is_refused(client, db, admin):
    response = client.post(
        USERS, json={"username": "bob", "password": "é" * 37, "role": "viewer"}, headers=admin
    )
    assert response.status_code == 422
    assert count(db, User) == 1


def test_admin_gets_one_user(client, admin, manager_user):
    response = client.get(f"{USERS}/{manager_user.id}", headers=admin)
    assert response.status_code == 200
    assert response.json()["username"] == "manager"
    assert set(response.json()) == USER_FIELDS


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_unknown_user_is_404(client, admin, method):
    kwargs = {"json": {"role": "viewer"}} if method == "patch" else {}
    response = client.request(method, f"{USERS}/999999", headers=admin, **kwargs)
    assert response.status_code == 404
    assert response.json()["detail"] == "user 999999 not found"


@pytest.mark.parametrize("user_id", ["0", "-1", "abc", "2147483648"])
def test_a_user_id_that_cannot_exist_is_422(client, admin, user_id):
    assert client.get(f"{USERS}/{user_id}", headers=admin).status_code == 422


# --- update ----------------------------------------------------------------------------------


def test_admin_changes_a_role(client, db, admin, viewer_user):
    response = client.patch(f"{USERS}/{viewer_user.id}", json={"role": "manager"}, headers=admin)
    assert response.status_code == 200
    assert response.json()["role"] == "manager"
    assert stored_user(db, viewer_user.id).role == Role.manager


def test_a_patch_leaves_fields_it_does_not_name(client, db, admin, manager_user):
    before = stored_user(db, manager_user.id).password_hash
    response = client.patch(f"{USERS}/{manager_user.id}", json={"is_active": False}, headers=admin)
    assert response.status_code == 200
    after = stored_user(db, manager_user.id)
    assert (after.role, after.is_active, after.password_hash) == (Role.manager, False, before)


def test_an_explicit_null_role_is_refused(client, db, admin, manager_user):
    response = client.patch(f"{USERS}/{manager_user.id}", json={"role": None}, headers=admin)
    assert response.status_code == 422
    assert stored_user(db, manager_user.id).role == Role.manager


def test_an_unknown_role_is_refused(client, db, admin, manager_user):
    response = client.patch(f"{USERS}/{manager_user.id}", json={"role": "root"}, headers=admin)
    assert response.status_code == 422
    assert stored_user(db, manager_user.id).role == Role.manager


def test_a_demoted_manager_loses_write_access_with_the_same_token(client, admin, manager_user):
    old_token = auth_headers(manager_user)
    product = {"name": "Rake", "price": "9.99"}
    assert client.post("/api/v1/products", json=product, headers=old_token).status_code == 201
    client.patch(f"{USERS}/{manager_user.id}", json={"role": "viewer"}, headers=admin)
    response = client.post("/api/v1/products", json=product, headers=old_token)
    assert response.status_code == 403
    assert client.get(ME, headers=old_token).json()["role"] == "viewer"


def test_a_promoted_viewer_gains_write_access_with_the_same_token(client, admin, viewer_user):
    old_token = auth_headers(viewer_user)
    client.patch(f"{USERS}/{viewer_user.id}", json={"role": "manager"}, headers=admin)
    response = client.post(
        "/api/v1/products", json={"name": "Rake", "price": "9.99"}, headers=old_token
    )
    assert response.status_code == 201


def test_disabling_a_user_stops_their_token_at_once(client, admin, manager_user):
    old_token = auth_headers(manager_user)
    response = client.patch(f"{USERS}/{manager_user.id}", json={"is_active": False}, headers=admin)
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert client.get(ME, headers=old_token).status_code == 401
    assert log_in(client, "manager").status_code == 401


def test_enabling_a_user_again_lets_them_back_in(client, admin, make_user):
    user = make_user(username="bob", is_active=False)
    client.patch(f"{USERS}/{user.id}", json={"is_active": True}, headers=admin)
    assert log_in(client, "bob").status_code == 200


def test_deleting_a_user_stops_their_token_at_once(client, db, admin, manager_user):
    old_token, user_id = auth_headers(manager_user), manager_user.id
    response = client.delete(f"{USERS}/{user_id}", headers=admin)
    assert response.status_code == 204
    assert response.content == b""
    assert stored_user(db, user_id) is None
    assert client.get(ME, headers=old_token).status_code == 401
    assert client.get(f"{USERS}/{user_id}", headers=admin).status_code == 404


def test_admin_changes_a_password(client, db, admin, viewer_user):
    response = client.patch(
        f"{USERS}/{viewer_user.id}", json={"password": "new-password-99"}, headers=admin
    )
    assert response.status_code == 200
    assert "password" not in response.text
    assert log_in(client, "viewer", PASSWORD).status_code == 401
    assert log_in(client, "viewer", "new-password-99").status_code == 200
    assert verify_password("new-password-99", stored_user(db, viewer_user.id).password_hash)


@pytest.mark.parametrize("password", ["short", "é" * 37])
def test_a_new_password_outside_the_rules_is_refused(client, db, admin, viewer_user, password):
    before = stored_user(db, viewer_user.id).password_hash
    response = client.patch(f"{USERS}/{viewer_user.id}", json={"password": password}, headers=admin)
    assert response.status_code == 422
    assert stored_user(db, viewer_user.id).password_hash == before


# --- the last admin --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change", [{"is_active": False}, {"role": "manager"}, {"role": "viewer", "is_active": False}]
)
def test_the_last_active_admin_cannot_be_disabled_or_demoted(client, db, admin, admin_user, change):
    response = client.patch(f"{USERS}/{admin_user.id}", json=change, headers=admin)
    assert response.status_code == 409
    assert "last active admin" in response.json()["detail"]
    after = stored_user(db, admin_user.id)
    assert (after.role, after.is_active) == (Role.admin, True)


def test_the_last_active_admin_cannot_be_deleted(client, db, admin, admin_user):
    response = client.delete(f"{USERS}/{admin_user.id}", headers=admin)
    assert response.status_code == 409
    assert "last active admin" in response.json()["detail"]
    assert stored_user(db, admin_user.id) is not None


def test_a_disabled_admin_does_not_count_as_another_admin(client, db, admin, admin_user, make_user):
    make_user(Role.admin, "sleeper", is_active=False)
    response = client.patch(f"{USERS}/{admin_user.id}", json={"role": "viewer"}, headers=admin)
    assert response.status_code == 409
    assert stored_user(db, admin_user.id).role == Role.admin


def test_the_last_admin_may_still_change_their_own_password(client, admin, admin_user):
    response = client.patch(
        f"{USERS}/{admin_user.id}", json={"password": "new-password-99"}, headers=admin
    )
    assert response.status_code == 200
    assert log_in(client, "admin", "new-password-99").status_code == 200


def test_an_admin_may_be_demoted_when_another_active_admin_exists(
    client, db, admin, admin_user, make_user
):
    make_user(Role.admin, "second")
    response = client.patch(f"{USERS}/{admin_user.id}", json={"role": "manager"}, headers=admin)
    assert response.status_code == 200
    assert stored_user(db, admin_user.id).role == Role.manager
    assert client.get(USERS, headers=admin).status_code == 403


def test_an_admin_may_be_disabled_when_another_active_admin_exists(
    client, db, admin, admin_user, make_user
):
    second = make_user(Role.admin, "second")
    response = client.patch(f"{USERS}/{admin_user.id}", json={"is_active": False}, headers=admin)
    assert response.status_code == 200
    assert stored_user(db, admin_user.id).is_active is False
    assert client.get(USERS, headers=auth_headers(second)).status_code == 200


def test_an_admin_may_be_deleted_when_another_active_admin_exists(
    client, db, admin, admin_user, make_user
):
    second = make_user(Role.admin, "second")
    response = client.delete(f"{USERS}/{admin_user.id}", headers=auth_headers(second))
    assert response.status_code == 204
    assert stored_user(db, admin_user.id) is None


def test_the_second_to_last_admin_going_leaves_the_last_one_protected(
    client, db, admin, admin_user, make_user
):
    second = make_user(Role.admin, "second")
    assert client.delete(f"{USERS}/{second.id}", headers=admin).status_code == 204
    assert client.delete(f"{USERS}/{admin_user.id}", headers=admin).status_code == 409
    assert stored_user(db, admin_user.id) is not None


# --- mass assignment (issue 8 item 3) --------------------------------------------------------

SERVER_OWNED = [
    ("id", 4242),
    ("password_hash", "$2b$04$" + "x" * 53),
    ("created_at", "2000-01-01T00:00:00Z"),
    ("quantity_after", 1),
    ("version", 7),
]


@pytest.mark.parametrize("field, value", SERVER_OWNED)
def test_creating_a_user_refuses_fields_the_server_owns(client, db, admin, field, value):
    body = {"username": "bob", "password": PASSWORD, "role": "viewer", field: value}
    response = client.post(USERS, json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"] == f"body.{field}: Extra inputs are not permitted"
    assert count(db, User) == 1


@pytest.mark.parametrize("field, value", [*SERVER_OWNED, ("username", "renamed")])
def test_changing_a_user_refuses_fields_it_may_not_change(
    client, db, admin, viewer_user, field, value
):
    before = snapshot(db, viewer_user.id)
    body = {"role": "manager", field: value}
    response = client.patch(f"{USERS}/{viewer_user.id}", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"] == f"body.{field}: Extra inputs are not permitted"
    assert snapshot(db, viewer_user.id) == before


# --- privilege (issue 8 item 4) --------------------------------------------------------------


@pytest.mark.parametrize("caller", ["manager", "viewer"])
def test_only_admins_reach_users_at_all(client, request, caller, admin_user):
    headers = request.getfixturevalue(caller)
    for method, path in [
        ("GET", USERS),
        ("POST", USERS),
        ("GET", f"{USERS}/{admin_user.id}"),
        ("DELETE", f"{USERS}/{admin_user.id}"),
    ]:
        assert client.request(method, path, headers=headers).status_code == 403, (method, path)


@pytest.mark.parametrize("caller", ["manager", "viewer"])
def test_a_non_admin_cannot_promote_themself(client, db, request, caller):
    headers = request.getfixturevalue(caller)
    me = client.get(ME, headers=headers).json()
    response = client.patch(
        f"{USERS}/{me['id']}", json={"role": "admin", "is_active": True}, headers=headers
    )
    assert response.status_code == 403
    assert stored_user(db, me["id"]).role == Role(caller)


@pytest.mark.parametrize("caller", ["manager", "viewer"])
def test_a_non_admin_cannot_change_another_user(client, db, request, caller, admin_user):
    headers = request.getfixturevalue(caller)
    before = snapshot(db, admin_user.id)
    for change in ({"is_active": False}, {"role": "viewer"}, {"password": "taken-over-1"}):
        response = client.patch(f"{USERS}/{admin_user.id}", json=change, headers=headers)
        assert response.status_code == 403
    assert snapshot(db, admin_user.id) == before


@pytest.mark.parametrize("caller", ["manager", "viewer"])
def test_a_non_admin_cannot_delete_themself_or_others(client, db, request, caller, admin_user):
    headers = request.getfixturevalue(caller)
    me = client.get(ME, headers=headers).json()
    for user_id in (me["id"], admin_user.id):
        assert client.delete(f"{USERS}/{user_id}", headers=headers).status_code == 403
        assert stored_user(db, user_id) is not None


def test_a_manager_cannot_delete_a_product_or_a_category(client, manager, product, category):
    assert client.delete(f"/api/v1/products/{product['id']}", headers=manager).status_code == 403
    assert client.delete(f"/api/v1/categories/{category['id']}", headers=manager).status_code == 403
    assert client.get(f"/api/v1/products/{product['id']}", headers=manager).status_code == 200
    assert client.get(f"/api/v1/categories/{category['id']}", headers=manager).status_code == 200


def test_a_password_change_ends_the_tokens_issued_before_it(client, admin, make_user):
    user = make_user(Role.manager, "carol")
    issued_earlier = auth_headers(user)
    assert client.get("/api/v1/auth/me", headers=issued_earlier).status_code == 200

    response = client.patch(
        f"/api/v1/users/{user.id}", json={"password": "a-brand-new-secret"}, headers=admin
    )

    assert response.status_code == 200
    assert client.get("/api/v1/auth/me", headers=issued_earlier).status_code == 401
    new_login = log_in(client, "carol", "a-brand-new-secret")
    fresh = bearer(new_login.json()["access_token"])
    assert client.get("/api/v1/auth/me", headers=fresh).status_code == 200


def test_a_role_change_keeps_the_tokens_already_issued(client, admin, make_user):
    user = make_user(Role.manager, "dave")
    headers = auth_headers(user)
    client.patch(f"/api/v1/users/{user.id}", json={"role": "viewer"}, headers=admin)
    me = client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["role"] == "viewer"
