"""A typed client generated from the served OpenAPI document (issue 16 point 5), as an integrator
would make one: openapi-python-client, a tool nobody here wrote, run offline into a temporary
folder, then a short workflow through it against a real server."""

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from inventory.models import Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.live

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "inventory_client"


@pytest.fixture(scope="module")
def generated(live_server, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The generated package's modules, imported from a temporary folder."""
    folder = tmp_path_factory.mktemp("generated-client")
    (folder / "openapi.json").write_text(httpx.get(f"{live_server}/openapi.json").text)
    (folder / "config.yaml").write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path=openapi.json",
            f"--output-path={PACKAGE}",
            "--meta=none",
            "--config=config.yaml",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        yield SimpleNamespace(
            client=importlib.import_module(PACKAGE),
            models=importlib.import_module(f"{PACKAGE}.models"),
            auth=operations("auth", "login", "register"),
            api_keys=operations("api_keys", "create_api_key"),
            products=operations(
                "products", "create_product", "list_products", "adjust_stock", "get_product"
            ),
        )
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


def operations(tag: str, *names: str) -> SimpleNamespace:
    """The generated modules of some operations of one tag: one module per operation, named by
    its operationId."""
    return SimpleNamespace(
        **{name: importlib.import_module(f"{PACKAGE}.api.{tag}.{name}") for name in names}
    )


def log_in(generated, live_server, username: str):
    """A client authenticated by logging in through the generated login operation."""
    anonymous = generated.client.Client(base_url=live_server)
    form = generated.models.LoginForm(username=username, password=PASSWORD)
    token = generated.auth.login.sync(client=anonymous, body=form)
    assert isinstance(token, generated.models.Token), token
    return generated.client.AuthenticatedClient(base_url=live_server, token=token.access_token)


def new_product(generated, client, stock: int):
    body = generated.models.ProductCreate(
        name="Garden hose", price="19.99", stock_quantity=stock, sku="HOSE-25"
    )
    product = generated.products.create_product.sync(client=client, body=body)
    assert isinstance(product, generated.models.ProductRead), product
    return product


def test_the_generated_client_logs_in_creates_lists_and_adjusts_stock(
    generated, live_server, make_user
):
    make_user(Role.manager, "bob")
    client = log_in(generated, live_server, "bob")
    models, products = generated.models, generated.products

    created = new_product(generated, client, stock=5)
    page = products.list_products.sync(client=client, sort=models.ProductSort.NAME_DESC)
    adjusted = products.adjust_stock.sync(
        created.id, client=client, body=models.StockAdjustment(delta=7, reason="delivery")
    )

    assert [item.sku for item in page.items] == ["HOSE-25"]
    assert page.total == 1
    assert isinstance(adjusted, models.ProductRead), adjusted
    assert adjusted.stock_quantity == 12


def test_a_stock_conflict_reaches_the_generated_client_as_its_typed_409_body(
    generated, live_server, make_user
):
    make_user(Role.manager, "bob")
    client = log_in(generated, live_server, "bob")
    product = new_product(generated, client, stock=5)

    response = generated.products.adjust_stock.sync_detailed(
        product.id,
        client=client,
        body=generated.models.StockAdjustment(delta=-10, reason="order 1043"),
    )

    assert response.status_code == 409
    assert isinstance(response.parsed, generated.models.StockConflictBody)
    assert response.parsed.available == 5
    assert response.parsed.detail == "not enough stock: 5 available, 10 requested"
    again = generated.products.get_product.sync(product.id, client=client)
    assert again.stock_quantity == 5


def test_an_api_key_made_through_the_generated_client_drives_it_as_x_api_key(
    generated, live_server, make_user
):
    make_user(Role.admin, "root")
    admin = log_in(generated, live_server, "root")
    body = generated.models.ApiKeyCreate(name="storefront", role=generated.models.Role.VIEWER)

    created = generated.api_keys.create_api_key.sync(client=admin, body=body)
    storefront = generated.client.AuthenticatedClient(
        base_url=live_server, token=created.key, auth_header_name="X-API-Key", prefix=""
    )
    listed = generated.products.list_products.sync(client=storefront)
    refused = generated.products.create_product.sync_detailed(
        client=storefront,
        body=generated.models.ProductCreate(name="Rake", price="9.99"),
    )

    assert isinstance(created, generated.models.ApiKeyCreated), created
    assert listed.total == 0
    assert refused.status_code == 403


def test_sign_up_works_through_the_client_without_credentials(generated, live_server):
    anonymous = generated.client.Client(base_url=live_server)
    body = generated.models.UserRegister(username="alice", password=PASSWORD)

    user = generated.auth.register.sync(client=anonymous, body=body)

    assert isinstance(user, generated.models.UserRead), user
    assert (user.username, user.role) == ("alice", generated.models.Role.VIEWER)


def test_descending_sort_orders_have_readable_names(generated):
    names = {member.name for member in generated.models.ProductSort}

    assert {"NAME_DESC", "PRICE_DESC", "CREATED_AT_DESC"} <= names
    assert not any(name.startswith("VALUE_") for name in names)
