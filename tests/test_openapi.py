"""The generated OpenAPI document: every operation documented, with examples and its errors."""

import json
import re

import pytest

from inventory.main import app

ERROR_BODY_CODES = ("401", "403", "404", "409", "422")
LOGIN = ("post", "/api/v1/auth/login")
OPEN = [LOGIN, ("post", "/api/v1/auth/refresh"), ("post", "/api/v1/auth/logout")]
"""They take a password or a refresh token, never a bearer token."""
# Any logged-in user may call it and it takes no input: a 403 or a 422 cannot happen.
ME = ("get", "/api/v1/auth/me")
CAN_CONFLICT = [
    ("post", "/api/v1/products"),
    ("patch", "/api/v1/products/{product_id}"),
    ("post", "/api/v1/categories"),
    ("patch", "/api/v1/categories/{category_id}"),
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/users"),
    ("patch", "/api/v1/users/{user_id}"),
]
CATALOG_BODIES = [
    ("post", "/api/v1/products"),
    ("patch", "/api/v1/products/{product_id}"),
    ("post", "/api/v1/categories"),
    ("patch", "/api/v1/categories/{category_id}"),
]
DOCUMENT = app.openapi()
SCHEMAS = DOCUMENT["components"]["schemas"]
OPERATIONS = {
    (method, path): operation
    for path, item in DOCUMENT["paths"].items()
    if path.startswith("/api/v1/")
    for method, operation in item.items()
}
WITH_BODY = [key for key, operation in OPERATIONS.items() if "requestBody" in operation]
SECURED = [key for key in OPERATIONS if key not in OPEN]


def resolve(schema: dict) -> dict:
    """`schema` with its `$ref`s followed."""
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def has_example(schema: dict) -> bool:
    return "example" in schema or bool(schema.get("examples"))


def ids(keys: list[tuple[str, str]]) -> list[str]:
    return [f"{method.upper()} {path}" for method, path in keys]


def test_the_document_is_served_without_a_token(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["paths"].keys() == DOCUMENT["paths"].keys()


def test_the_catalog_operations_are_all_documented():
    expected = {
        ("post", "/api/v1/products"),
        ("get", "/api/v1/products"),
        ("get", "/api/v1/products/{product_id}"),
        ("patch", "/api/v1/products/{product_id}"),
        ("delete", "/api/v1/products/{product_id}"),
        ("post", "/api/v1/categories"),
        ("get", "/api/v1/categories"),
        ("get", "/api/v1/categories/{category_id}"),
        ("patch", "/api/v1/categories/{category_id}"),
        ("delete", "/api/v1/categories/{category_id}"),
        ("get", "/api/v1/categories/{category_id}/products"),
    }
    assert expected <= OPERATIONS.keys()


@pytest.mark.parametrize("key", list(OPERATIONS), ids=ids(list(OPERATIONS)))
def test_every_operation_has_a_summary_a_description_and_tags(key):
    operation = OPERATIONS[key]
    assert operation.get("summary", "").strip()
    assert operation.get("description", "").strip()
    assert operation.get("tags")


@pytest.mark.parametrize(
    "key",
    [pytest.param(key, id=f"{key[0].upper()} {key[1]}") for key in WITH_BODY],
)
def test_every_request_body_has_an_example(key):
    for content in OPERATIONS[key]["requestBody"]["content"].values():
        schema = resolve(content["schema"])
        fields = schema.get("properties", {}).values()
        assert has_example(content) or has_example(schema) or any(map(has_example, fields))


@pytest.mark.parametrize("key", CATALOG_BODIES, ids=ids(CATALOG_BODIES))
def test_every_field_of_a_catalog_request_body_has_an_example(key):
    schema = resolve(OPERATIONS[key]["requestBody"]["content"]["application/json"]["schema"])
    missing = [name for name, field in schema["properties"].items() if not has_example(field)]
    assert missing == []


ADMIN_ONLY = ("/api/v1/users", "/api/v1/api-keys", "/api/v1/events", "/api/v1/webhooks")
NEEDS_A_ROLE = [
    (method, path)
    for method, path in SECURED
    if path.startswith(ADMIN_ONLY) or (method != "get" and path != "/api/v1/auth/register")
]


@pytest.mark.parametrize("key", SECURED, ids=ids(SECURED))
def test_every_protected_operation_documents_its_auth_and_validation_errors(key):
    responses = OPERATIONS[key]["responses"]
    codes = ("401",) if key == ME else ("401", "422")
    for code in codes:
        assert code in responses, f"{code} is not documented"
    assert OPERATIONS[key].get("security"), "no security requirement"


@pytest.mark.parametrize("key", SECURED, ids=ids(SECURED))
def test_a_403_is_documented_exactly_where_a_role_is_needed_naming_the_roles(key):
    responses = OPERATIONS[key]["responses"]
    if key in NEEDS_A_ROLE:
        example = responses["403"]["content"]["application/json"]["example"]["detail"]
        roles = (
            "admin" if key[0] == "delete" or key[1].startswith(ADMIN_ONLY) else ("admin, manager")
        )
        assert example == f"this needs one of the roles: {roles}"
    elif key != ("post", "/api/v1/auth/register"):
        assert "403" not in responses


@pytest.mark.parametrize(
    "key",
    [pytest.param(key, id=f"{key[0].upper()} {key[1]}") for key in OPERATIONS],
)
def test_every_documented_error_has_a_body_schema_and_an_example(key):
    for code, response in OPERATIONS[key]["responses"].items():
        if code not in ERROR_BODY_CODES:
            continue
        content = response.get("content", {}).get("application/json", {})
        schema = resolve(content.get("schema", {}))
        assert "detail" in schema.get("properties", {}), f"{code} has no body schema"
        assert content.get("example", {}).get("detail"), f"{code} has no example"


PATH_ID_OPERATIONS = [key for key in OPERATIONS if "{" in key[1]]


@pytest.mark.parametrize("key", PATH_ID_OPERATIONS, ids=ids(PATH_ID_OPERATIONS))
def test_every_operation_with_an_id_in_its_path_documents_404(key):
    assert "404" in OPERATIONS[key]["responses"]


@pytest.mark.parametrize("key", CAN_CONFLICT, ids=ids(CAN_CONFLICT))
def test_every_write_that_can_conflict_documents_409(key):
    assert "409" in OPERATIONS[key]["responses"]


def test_a_price_is_read_as_a_string_and_written_as_a_number_or_string():
    assert SCHEMAS["ProductRead"]["properties"]["price"]["type"] == "string"
    accepted = SCHEMAS["ProductCreate"]["properties"]["price"]["anyOf"]
    assert {option["type"] for option in accepted} == {"number", "string"}


def test_a_product_read_carries_its_categories_as_id_and_name():
    categories = SCHEMAS["ProductRead"]["properties"]["categories"]
    assert set(resolve(categories["items"])["properties"]) == {"id", "name"}


def test_no_password_hash_appears_anywhere_in_the_document():
    assert "password_hash" not in json.dumps(DOCUMENT)


def test_operation_ids_are_the_route_functions_short_names_and_unique():
    operation_ids = [
        operation["operationId"]
        for item in DOCUMENT["paths"].values()
        for operation in item.values()
    ]

    assert len(operation_ids) == len(set(operation_ids))
    assert all(re.fullmatch(r"[a-z][a-z_]{1,30}", name) for name in operation_ids), operation_ids
    assert OPERATIONS[("get", "/api/v1/products")]["operationId"] == "list_products"
    assert OPERATIONS[("post", "/api/v1/products/{product_id}/stock")]["operationId"] == (
        "adjust_stock"
    )


def test_sign_up_declares_its_token_optional():
    security = OPERATIONS[("post", "/api/v1/auth/register")]["security"]

    assert {} in security
    assert {"OAuth2PasswordBearer": []} in security


def test_protected_operations_take_a_bearer_token_or_an_api_key():
    security = OPERATIONS[("get", "/api/v1/products")]["security"]

    assert security == [{"OAuth2PasswordBearer": []}, {"ApiKey": []}]
    scheme = DOCUMENT["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")


@pytest.mark.parametrize("schema", ["ProductSort", "CategorySort"])
def test_sort_orders_name_their_values_for_generators(schema):
    sort = SCHEMAS[schema]

    names = dict(zip(sort["enum"], sort["x-enum-varnames"], strict=True))
    assert names["-name"] == "name_desc"
    assert names["name"] == "name"
