"""Search by meaning through HTTP: `GET /products?search=semantic|hybrid` and
`GET /products/{id}/similar`, with the filters, paging and both index paths."""

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import event, text

from inventory import product_search
from inventory.config import get_settings
from inventory.embeddings import get_embedder, product_text
from inventory.models import ProductRead
from inventory.product_queries import text_match
from inventory.reindex import reindex
from tests.test_embeddings import embeddings_api  # noqa: F401 (a fixture)

PRODUCTS = "/api/v1/products"
CATALOGUE = {
    "Garden": [
        ("Garden hose 25 m", "Kink-resistant hose with brass fittings and a spray nozzle.", 20),
        ("Oscillating sprinkler", "Covers 200 square metres of grass.", 15),
        ("Watering can 10 l", "Galvanised can with a rose for seedlings.", 12),
        ("Petrol lawn mower", "Self-propelled, 46 cm cut, grass box.", 250),
    ],
    "Kitchen": [
        ("Electric kettle", "Rapid boil, 1.7 l, limescale filter.", 30),
        ("Two-slice toaster", "Browning control and crumb tray.", 25),
        ("Chef's knife", "Forged steel blade for chopping.", 60),
    ],
    "Office": [
        ("Desk stapler", "Staples up to 25 sheets.", 8),
        ("A4 copier paper", "Five reams of 80 gsm paper.", 22),
        ("Ergonomic office chair", "Lumbar support and mesh back.", 180),
    ],
}


@pytest.fixture
def catalogue(client, admin) -> dict[str, dict]:
    """The products above, made through the API, by name; category ids under "categories"."""
    made: dict[str, dict] = {"categories": {}}
    for category, products in CATALOGUE.items():
        response = client.post("/api/v1/categories", json={"name": category}, headers=admin)
        category_id = response.json()["id"]
        made["categories"][category] = category_id
        for name, description, price in products:
            response = client.post(
                PRODUCTS,
                json={
                    "name": name,
                    "description": description,
                    "price": price,
                    "stock_quantity": 0 if name == "Watering can 10 l" else 40,
                    "category_ids": [category_id],
                },
                headers=admin,
            )
            assert response.status_code == 201, response.text
            made[name] = response.json()
    return made


def search(client, headers, q, mode="semantic", **params) -> dict:
    response = client.get(PRODUCTS, params={"q": q, "search": mode, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def names(page: dict) -> list[str]:
    return [item["name"] for item in page["items"]]


def test_semantic_search_finds_products_by_meaning_that_text_search_misses(
    client, viewer, catalogue
):
    by_text = search(client, viewer, "something to water the lawn", "text")
    by_meaning = search(client, viewer, "something to water the lawn", limit=3)

    assert by_text["total"] == 0
    assert by_meaning["total"] == 10
    assert set(names(by_meaning)) <= {
        "Garden hose 25 m",
        "Oscillating sprinkler",
        "Watering can 10 l",
        "Petrol lawn mower",
    }


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_a_ranked_search_answers_every_product_as_a_product_page(client, viewer, catalogue, mode):
    page = search(client, viewer, "boil water for tea", mode, limit=4, offset=0)

    assert page["total"] == 10
    assert page["limit"] == 4 and page["offset"] == 0
    assert "Electric kettle" in names(page)[:2]
    assert set(page["items"][0]) == set(ProductRead.model_fields)


def test_pages_of_a_semantic_search_fit_together_without_repeats(client, viewer, catalogue):
    whole = names(search(client, viewer, "office supplies", limit=10))
    pages = [
        names(search(client, viewer, "office supplies", limit=3, offset=o)) for o in (0, 3, 6, 9)
    ]

    assert [name for page in pages for name in page] == whole
    assert len(set(whole)) == 10


def test_changing_a_description_changes_the_ranking(client, admin, viewer, catalogue):
    before = names(search(client, viewer, "boil water for tea", limit=1))
    stapler = catalogue["Desk stapler"]

    response = client.patch(
        f"{PRODUCTS}/{stapler['id']}",
        json={"name": "Tea kettle", "description": "Boils water for tea on the hob."},
        headers=admin,
    )

    assert response.status_code == 200, response.text
    after = names(search(client, viewer, "boil water for tea", limit=2))
    assert before == ["Electric kettle"]
    assert "Tea kettle" in after


def test_a_stock_change_keeps_the_embedding(client, admin, db, catalogue):
    kettle = catalogue["Electric kettle"]["id"]
    before = db.scalar(text("SELECT embedding::text FROM products WHERE id = :id"), {"id": kettle})

    client.patch(f"{PRODUCTS}/{kettle}", json={"stock_quantity": 3}, headers=admin)

    after = db.scalar(text("SELECT embedding::text FROM products WHERE id = :id"), {"id": kettle})
    assert before is not None and after == before


def test_a_created_product_is_embedded_with_the_configured_model(db, catalogue):
    rows = db.execute(text("SELECT embedding IS NOT NULL, embedding_model FROM products")).all()

    assert rows and set(rows) == {(True, get_embedder().model)}


def test_renaming_a_category_re_embeds_its_products(client, admin, db, catalogue):
    office = catalogue["categories"]["Office"]

    response = client.patch(
        f"/api/v1/categories/{office}", json={"name": "Stationery"}, headers=admin
    )

    assert response.status_code == 200, response.text
    stored = db.scalar(text("SELECT embedding::text FROM products WHERE name = 'Desk stapler'"))
    expected = get_embedder().embed_one(
        product_text("Desk stapler", "Staples up to 25 sheets.", ["Stationery"])
    )
    assert np.allclose(np.array(stored.strip("[]").split(","), dtype=float), expected, atol=1e-5)


def test_deleting_a_category_re_embeds_the_products_it_held(client, admin, db, catalogue):
    office = catalogue["categories"]["Office"]

    assert client.delete(f"/api/v1/categories/{office}", headers=admin).status_code == 204

    stored = db.scalar(text("SELECT embedding::text FROM products WHERE name = 'Desk stapler'"))
    expected = get_embedder().embed_one(
        product_text("Desk stapler", "Staples up to 25 sheets.", [])
    )
    assert np.allclose(np.array(stored.strip("[]").split(","), dtype=float), expected, atol=1e-5)


def test_a_category_rename_to_a_taken_name_is_a_409_and_re_embeds_nothing(
    client, admin, db, catalogue
):
    office = catalogue["categories"]["Office"]
    before = db.execute(text("SELECT id, embedding::text FROM products ORDER BY id")).all()

    response = client.patch(f"/api/v1/categories/{office}", json={"name": "garden"}, headers=admin)

    assert response.status_code == 409
    assert db.execute(text("SELECT id, embedding::text FROM products ORDER BY id")).all() == before


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_the_category_filter_holds_under_ranked_search(client, viewer, catalogue, mode):
    office = catalogue["categories"]["Office"]

    page = search(client, viewer, "something to water the lawn", mode, category_id=office)

    assert page["total"] == 3
    assert set(names(page)) == {"Desk stapler", "A4 copier paper", "Ergonomic office chair"}


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_the_price_filters_hold_under_ranked_search(client, viewer, catalogue, mode):
    page = search(client, viewer, "cut the grass", mode, min_price="20", max_price="60")

    assert page["total"] == 5
    assert all(20 <= float(item["price"]) <= 60 for item in page["items"])
    assert "Petrol lawn mower" not in names(page)


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_the_stock_filter_holds_under_ranked_search(client, viewer, catalogue, mode):
    page = search(client, viewer, "something to water the lawn", mode, in_stock="false")

    assert page["total"] == 1
    assert names(page) == ["Watering can 10 l"]


def test_the_category_product_list_takes_a_ranked_search_too(client, viewer, catalogue):
    garden = catalogue["categories"]["Garden"]

    response = client.get(
        f"/api/v1/categories/{garden}/products",
        params={"q": "water the plants", "search": "semantic"},
        headers=viewer,
    )

    assert response.status_code == 200, response.text
    assert response.json()["total"] == 4


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_sort_with_a_ranked_search_is_a_422(client, viewer, catalogue, mode):
    response = client.get(
        PRODUCTS, params={"q": "kettle", "search": mode, "sort": "price"}, headers=viewer
    )

    assert response.status_code == 422
    assert "sort cannot be combined" in response.text


@pytest.mark.parametrize("params", [{"search": "semantic"}, {"search": "hybrid", "q": "  "}])
def test_a_ranked_search_without_q_is_a_422(client, viewer, catalogue, params):
    response = client.get(PRODUCTS, params=params, headers=viewer)

    assert response.status_code == 422
    assert "needs q" in response.text


def test_an_unknown_search_mode_is_a_422(client, viewer):
    response = client.get(PRODUCTS, params={"q": "kettle", "search": "fuzzy"}, headers=viewer)

    assert response.status_code == 422


def test_text_search_stays_the_default_substring_match_in_sort_order(client, viewer, catalogue):
    page = client.get(PRODUCTS, params={"q": "KETTLE", "sort": "-price"}, headers=viewer).json()

    assert names(page) == ["Electric kettle"]


def test_hybrid_search_puts_an_exact_text_match_first(client, viewer, catalogue):
    page = search(client, viewer, "stapler", "hybrid", limit=3)

    assert names(page)[0] == "Desk stapler"


def test_hybrid_ranks_only_the_first_matches_of_a_common_word_but_substring_matches_first(
    client, viewer, manager, db, monkeypatch
):
    """Past TEXT_RANKING_MAX_MATCHES matches the text side ranks only that many, and the
    products holding q itself are always among them: here "boxes" is in one product's name,
    while its stem, box, is in 30 products stored before it."""
    db.execute(
        text(
            "INSERT INTO products (name, description, price, stock_quantity, low_stock_threshold)"
            " SELECT 'Storage box ' || n, 'A sturdy box for the shelf', 5.00, 10, 1"
            " FROM generate_series(1, 30) AS n"
        )
    )
    db.commit()
    body = {"name": "Shoe boxes", "price": "4.00", "stock_quantity": 5}
    shoe_boxes = client.post(PRODUCTS, json=body, headers=manager).json()
    monkeypatch.setattr(product_search, "TEXT_RANKING_MAX_MATCHES", 5)

    ranked = product_search.text_ranked_ids(db, [], "boxes", text_match("boxes"), depth=3)
    page = search(client, viewer, "boxes", "hybrid", limit=5)

    assert len(ranked) == 3
    assert ranked[0] == shoe_boxes["id"]
    assert page["total"] == 31
    assert len(page["items"]) == 5


def test_similar_products_exclude_the_product_itself(client, viewer, catalogue):
    hose = catalogue["Garden hose 25 m"]

    response = client.get(f"{PRODUCTS}/{hose['id']}/similar", params={"limit": 3}, headers=viewer)

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 9
    assert hose["id"] not in [item["id"] for item in page["items"]]
    assert set(names(page)) <= {
        "Oscillating sprinkler",
        "Watering can 10 l",
        "Petrol lawn mower",
        "Desk stapler",
        "Electric kettle",
    }


def test_similar_products_of_an_unknown_product_is_a_404(client, viewer, catalogue):
    response = client.get(f"{PRODUCTS}/999999/similar", headers=viewer)

    assert response.status_code == 404
    assert response.json()["detail"] == "product 999999 not found"


def test_similar_products_work_for_a_product_not_yet_embedded(client, viewer, db, catalogue):
    hose = catalogue["Garden hose 25 m"]["id"]
    db.execute(
        text("UPDATE products SET embedding = NULL, embedding_model = NULL WHERE id = :id"),
        {"id": hose},
    )
    db.commit()

    page = client.get(f"{PRODUCTS}/{hose}/similar", params={"limit": 20}, headers=viewer).json()

    assert page["total"] == 9
    assert hose not in [item["id"] for item in page["items"]]
    assert len(page["items"]) == 9


def test_a_product_without_a_vector_is_still_ranked_last(client, viewer, db, catalogue):
    kettle = catalogue["Electric kettle"]["id"]
    db.execute(
        text("UPDATE products SET embedding = NULL, embedding_model = NULL WHERE id = :id"),
        {"id": kettle},
    )
    db.commit()

    page = search(client, viewer, "boil water for tea", limit=20)

    assert page["total"] == 10
    assert names(page)[-1] == "Electric kettle"


# ---------------------------------------------------------------------------------------------
# The index paths. Below EXACT_SEARCH_MAX_ROWS candidates a search is exact; these tests lower it
# to 0 so that small data goes through the HNSW index, as a big catalogue does.

FILLERS = 150


@pytest.fixture
def crowded(client, admin, db, catalogue, monkeypatch, planner_prefers_the_index) -> Iterator[dict]:
    """The catalogue plus FILLERS garden products that crowd the nearest neighbours of
    "something to water the lawn", and the HNSW index forced for every search."""
    garden = catalogue["categories"]["Garden"]
    db.execute(
        text(
            "INSERT INTO products (name, description, price, stock_quantity, low_stock_threshold)"
            " SELECT 'Lawn sprinkler ' || n, 'Waters the grass of a garden lawn, model ' || n,"
            " 10.00, 40, 1 FROM generate_series(1, :n) AS n"
        ),
        {"n": FILLERS},
    )
    db.execute(
        text(
            "INSERT INTO product_categories (product_id, category_id)"
            " SELECT id, :garden FROM products WHERE name LIKE 'Lawn sprinkler %'"
        ),
        {"garden": garden},
    )
    db.commit()
    reindex(progress=False)
    monkeypatch.setattr(product_search, "EXACT_SEARCH_MAX_ROWS", 0)
    yield catalogue


@pytest.fixture
def planner_prefers_the_index(engine) -> Iterator[None]:
    """Make PostgreSQL read the HNSW index whenever it can, as it does for a big catalogue (for
    160 rows it would rather sort them all, which is exact anyway)."""

    def prefer_index(dbapi_connection, record, proxy) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off; SET enable_sort = off")
        dbapi_connection.commit()

    def reset(dbapi_connection, record) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("RESET enable_seqscan; RESET enable_sort")
        dbapi_connection.commit()

    event.listen(engine, "checkout", prefer_index)
    event.listen(engine, "checkin", reset)
    yield
    event.remove(engine, "checkout", prefer_index)
    event.remove(engine, "checkin", reset)


@pytest.fixture
def pgvector_07(monkeypatch):
    """The path taken on pgvector 0.7 (no iterative index scans), forced by its setting."""
    monkeypatch.setenv("PGVECTOR_ITERATIVE_SCAN", "off")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _settings_sent(statements: list[str]) -> str:
    return " ".join(s for s in statements if "set_config" in s)


def test_the_embedded_server_has_pgvector_with_iterative_scans(db):
    version = db.scalar(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))

    assert tuple(int(part) for part in version.split(".")[:2]) >= (0, 8)


@pytest.mark.parametrize("path", ["iterative", "pgvector 0.7"])
def test_a_selective_filter_loses_no_match_on_either_index_path(
    client, viewer, crowded, count_statements, request, path
):
    if path == "pgvector 0.7":
        request.getfixturevalue("pgvector_07")
    office = crowded["categories"]["Office"]

    page = search(client, viewer, "something to water the lawn", category_id=office)

    assert page["total"] == 3
    assert set(names(page)) == {"Desk stapler", "A4 copier paper", "Ergonomic office chair"}


def test_the_iterative_path_scans_the_index_in_strict_order(
    client, viewer, crowded, count_statements
):
    kitchen = crowded["categories"]["Kitchen"]

    page = search(client, viewer, "boil water for tea", category_id=kitchen)

    assert names(page)[0] == "Electric kettle" and page["total"] == 3
    assert "hnsw.iterative_scan" in _settings_sent(count_statements())


def test_on_pgvector_07_an_index_answer_that_comes_up_short_is_ranked_exactly(
    client, viewer, crowded, pgvector_07, count_statements
):
    # 6 of 160 products cost over 20; for a page of 1 the index is asked for its 40 nearest
    # vectors, all of them crowding fillers (price 10), so it comes up short: the search is
    # then ranked exactly.
    page = search(client, viewer, "lawn sprinkler that waters the grass", min_price=21, limit=1)

    statements = count_statements()
    assert page["total"] == 6 and names(page) == ["Petrol lawn mower"]
    assert "hnsw.ef_search" in _settings_sent(statements)
    assert "hnsw.iterative_scan" not in _settings_sent(statements)
    assert any("CASE WHEN" in s and "<=>" in s for s in statements)


@pytest.mark.parametrize("path", ["iterative", "pgvector 0.7"])
def test_the_index_finds_what_exact_ranking_finds(
    client, viewer, crowded, monkeypatch, request, path
):
    if path == "pgvector 0.7":
        request.getfixturevalue("pgvector_07")
    garden = crowded["categories"]["Garden"]
    by_index = search(client, viewer, "petrol engine mower", category_id=garden, limit=200)
    monkeypatch.setattr(product_search, "EXACT_SEARCH_MAX_ROWS", 10**9)

    exactly = search(client, viewer, "petrol engine mower", category_id=garden, limit=200)

    assert by_index["total"] == exactly["total"] == FILLERS + 4
    assert sorted(names(by_index)) == sorted(names(exactly))
    assert names(by_index)[0] == names(exactly)[0] == "Petrol lawn mower"


def test_a_page_deeper_than_pgvector_allows_is_ranked_exactly(
    client, viewer, crowded, count_statements
):
    page = search(client, viewer, "kitchen", limit=200, offset=900)

    assert page["total"] == FILLERS + 10
    assert page["items"] == []


# ---------------------------------------------------------------------------------------------
# A model of another dimension than the column's.


@pytest.fixture
def four_dimensional_model(request, monkeypatch, db) -> Iterator[None]:
    """EMBEDDING_MODEL set to a 4-dimensional model (a real HTTP server on 127.0.0.1); the
    column is put back to the default's 256 afterwards."""
    monkeypatch.setenv("EMBEDDING_MODEL", "openai:tiny")
    monkeypatch.setenv("EMBEDDING_API_URL", request.getfixturevalue("embeddings_api"))
    _forget_embedder()
    yield
    monkeypatch.undo()
    _forget_embedder()
    product_search.set_column_dimension(db, 256)
    db.commit()


def _forget_embedder() -> None:
    get_settings.cache_clear()
    get_embedder.cache_clear()
    product_search.forget_server_facts()


def test_with_a_model_of_another_size_search_is_a_503_until_reindex_fits_the_column(
    client, admin, viewer, db, four_dimensional_model
):
    created = client.post(PRODUCTS, json={"name": "Garden hose", "price": 20}, headers=admin)
    before = client.get(PRODUCTS, params={"q": "hose", "search": "semantic"}, headers=viewer)

    reindex(progress=False)

    after = client.get(PRODUCTS, params={"q": "hose", "search": "semantic"}, headers=viewer)
    assert created.status_code == 201
    assert before.status_code == 503
    assert "run `python -m inventory reindex`" in before.json()["detail"]
    assert after.status_code == 200, after.text
    assert names(after.json()) == ["Garden hose"]
    assert db.scalar(text("SELECT vector_dims(embedding) FROM products")) == 4
