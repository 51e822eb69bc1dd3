"""How requests use the database: few statements on hot reads, and pooled connections that the
server dropped are replaced rather than failing a request."""

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from inventory import db as database

PRODUCTS = "/api/v1/products"


def test_reading_a_product_is_two_statements_including_the_user_check(
    client, viewer, product, count_statements
):
    before = len(count_statements())
    response = client.get(f"{PRODUCTS}/{product['id']}", headers=viewer)
    assert response.status_code == 200
    assert response.json()["categories"] == product["categories"]
    assert len(count_statements()) - before == 2


def test_a_page_of_the_whole_catalogue_is_one_statement_that_counts_no_rows(
    client, viewer, product, count_statements
):
    before = len(count_statements())
    assert client.get(PRODUCTS, headers=viewer).json()["total"] == 1
    statements = count_statements()[before:]
    assert len(statements) == 2  # the user check, then the page with its total
    assert not any("count(*)" in statement.lower() for statement in statements)


def test_a_page_past_the_end_still_has_the_total(client, viewer, product):
    body = client.get(PRODUCTS, params={"offset": 10}, headers=viewer).json()
    assert body["items"] == []
    assert body["total"] == 1


def test_a_connection_dropped_while_it_sat_idle_is_replaced_not_an_error(
    client, viewer, product, monkeypatch
):
    engine = database.get_engine()
    engine.dispose()  # the pool starts empty: the request below leaves one connection in it
    assert client.get(f"{PRODUCTS}/{product['id']}", headers=viewer).status_code == 200
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    # From outside the app's pool, end that connection (as a restarted server would).
    outsider = create_engine(database.database_url(), poolclass=NullPool)
    with outsider.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    outsider.dispose()
    monkeypatch.setattr(database, "IDLE_BEFORE_PING_SECONDS", 0)
    assert client.get(f"{PRODUCTS}/{product['id']}", headers=viewer).status_code == 200


def test_connections_speak_utc_whatever_the_servers_time_zone(db):
    database_name = db.scalar(text("SELECT current_database()"))
    db.execute(text(f"ALTER DATABASE \"{database_name}\" SET TimeZone = 'Asia/Kolkata'"))
    db.commit()
    engine = database.get_engine.__wrapped__()
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SHOW TimeZone")) == "UTC"
            written = connection.scalar(text("SELECT timestamptz '2026-01-02 03:04:05+00'"))
        assert written.utcoffset().total_seconds() == 0
    finally:
        engine.dispose()
        db.execute(text(f'ALTER DATABASE "{database_name}" RESET TimeZone'))
        db.commit()
