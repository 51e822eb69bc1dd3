"""Settings come from the environment and a `.env` file, and production refuses unsafe ones."""

import sys

import pytest

from inventory.config import (
    DEFAULT_SECRET_KEY,
    SettingsError,
    settings_from_environment,
)
from inventory.db import start_embedded_postgres

SETTING_NAMES = (
    "ENVIRONMENT",
    "DATABASE_URL",
    "SECRET_KEY",
    "ACCESS_TOKEN_EXPIRE_MINUTES",
    "LOW_STOCK_THRESHOLD",
    "LOG_LEVEL",
    "FIRST_ADMIN_USERNAME",
    "FIRST_ADMIN_PASSWORD",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "DB_POOL_TIMEOUT_SECONDS",
    "BCRYPT_ROUNDS",
    "MAX_BODY_BYTES",
    "CORS_ORIGINS",
    "METRICS_ENABLED",
    "METRICS_TOKEN",
    "OPEN_SIGNUP",
    "EMBEDDED_DB_DIR",
)
GOOD_SECRET = "k" * 48
PG_URL = "postgresql+psycopg://app:pw@db.example.com:5432/inventory"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    """An environment with no setting in it, in a folder with no `.env`.

    Each variable is set before it is removed so that monkeypatch restores the original state
    even after `load_dotenv` writes it into `os.environ`.
    """
    monkeypatch.chdir(tmp_path)
    for name in (*SETTING_NAMES, "ENV_FILE"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://app:pw@db:5432/inventory", "postgresql+psycopg://app:pw@db:5432/inventory"),
        ("postgres://app:pw@db:5432/inventory", "postgresql+psycopg://app:pw@db:5432/inventory"),
        (
            "postgresql+psycopg://app:pw@db:5432/inventory",
            "postgresql+psycopg://app:pw@db:5432/inventory",
        ),
        (
            "postgresql://app@/inventory?host=/var/run/postgresql",
            "postgresql+psycopg://app@/inventory?host=/var/run/postgresql",
        ),
        (
            "  postgresql://app:p%40ss@db/inventory?sslmode=require  ",
            "postgresql+psycopg://app:p%40ss@db/inventory?sslmode=require",
        ),
    ],
)
def test_database_url_is_normalised_to_psycopg_3(env, given, expected):
    env.setenv("DATABASE_URL", given)
    assert settings_from_environment().database_url == expected


@pytest.mark.parametrize(
    "url", ["mysql://app:pw@db/inventory", "sqlite:///inventory.db", "postgresql+asyncpg://db/x"]
)
def test_an_unsupported_database_url_scheme_is_refused(env, url):
    env.setenv("DATABASE_URL", url)
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        settings_from_environment()


def test_no_database_url_means_the_embedded_database(env):
    assert settings_from_environment().database_url is None


def test_defaults_when_nothing_is_set(env):
    settings = settings_from_environment()
    assert settings.environment == "development"
    assert settings.secret_key == DEFAULT_SECRET_KEY
    assert settings.access_token_expire_minutes == 30
    assert settings.low_stock_threshold == 10
    assert settings.log_level == "INFO"
    assert settings.db_pool_size == 2
    assert settings.db_max_overflow == 5
    assert settings.db_pool_timeout_seconds == 10
    assert settings.bcrypt_rounds == 12
    assert settings.cors_origins == ()
    assert settings.first_admin_username is None
    assert settings.embedded_db_dir == ".pgdata"
    assert settings.metrics_token is None
    assert settings.open_signup is True


def test_settings_are_read_from_the_environment(env):
    env.setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "15")
    env.setenv("LOW_STOCK_THRESHOLD", "3")
    env.setenv("LOG_LEVEL", "debug")
    env.setenv("DB_POOL_SIZE", "20")
    env.setenv("DB_MAX_OVERFLOW", "0")
    env.setenv("METRICS_ENABLED", "yes")
    env.setenv("METRICS_TOKEN", " scrape-me ")
    env.setenv("OPEN_SIGNUP", "no")
    env.setenv("FIRST_ADMIN_USERNAME", " root ")
    settings = settings_from_environment()
    assert settings.access_token_expire_minutes == 15
    assert settings.low_stock_threshold == 3
    assert settings.log_level == "DEBUG"
    assert settings.db_pool_size == 20
    assert settings.db_max_overflow == 0
    assert settings.metrics_enabled is True
    assert settings.metrics_token == "scrape-me"
    assert settings.open_signup is False
    assert settings.first_admin_username == "root"


def test_cors_origins_are_a_comma_separated_list(env):
    env.setenv("CORS_ORIGINS", " https://shop.example.com , http://localhost:3000,, ")
    assert settings_from_environment().cors_origins == (
        "https://shop.example.com",
        "http://localhost:3000",
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "thirty"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
        ("LOW_STOCK_THRESHOLD", "-1"),
        ("LOW_STOCK_THRESHOLD", "2.5"),
        ("DB_POOL_SIZE", "0"),
        ("METRICS_ENABLED", "maybe"),
        ("ENVIRONMENT", "staging"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(env, name, value):
    env.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        settings_from_environment()


def test_production_accepts_a_real_secret_and_a_database(env):
    env.setenv("ENVIRONMENT", "production")
    env.setenv("SECRET_KEY", GOOD_SECRET)
    env.setenv("DATABASE_URL", PG_URL)
    settings = settings_from_environment()
    assert settings.is_production
    assert settings.secret_key == GOOD_SECRET
    assert settings.database_url == PG_URL


def test_production_refuses_a_missing_secret_key(env):
    env.setenv("ENVIRONMENT", "production")
    env.setenv("DATABASE_URL", PG_URL)
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        settings_from_environment()


def test_production_refuses_the_default_secret_key(env):
    env.setenv("ENVIRONMENT", "production")
    env.setenv("DATABASE_URL", PG_URL)
    env.setenv("SECRET_KEY", DEFAULT_SECRET_KEY)
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        settings_from_environment()


def test_production_refuses_a_secret_key_shorter_than_32_characters(env):
    env.setenv("ENVIRONMENT", "production")
    env.setenv("DATABASE_URL", PG_URL)
    env.setenv("SECRET_KEY", "k" * 31)
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        settings_from_environment()
    env.setenv("SECRET_KEY", "k" * 32)
    assert settings_from_environment().secret_key == "k" * 32


def test_production_refuses_a_missing_database_url(env):
    env.setenv("ENVIRONMENT", "production")
    env.setenv("SECRET_KEY", GOOD_SECRET)
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        settings_from_environment()


def test_development_accepts_the_default_secret_key(env):
    assert settings_from_environment().secret_key == DEFAULT_SECRET_KEY


def test_a_dotenv_file_in_the_working_directory_is_read(env, tmp_path):
    (tmp_path / ".env").write_text(
        "LOW_STOCK_THRESHOLD=7\nCORS_ORIGINS=https://a.example,https://b.example\n"
        "DATABASE_URL=postgres://app:pw@db/inventory\n"
    )
    settings = settings_from_environment()
    assert settings.low_stock_threshold == 7
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.database_url == "postgresql+psycopg://app:pw@db/inventory"


def test_real_environment_variables_win_over_the_dotenv_file(env, tmp_path):
    (tmp_path / ".env").write_text("LOW_STOCK_THRESHOLD=7\nLOG_LEVEL=ERROR\n")
    env.setenv("LOW_STOCK_THRESHOLD", "4")
    settings = settings_from_environment()
    assert settings.low_stock_threshold == 4
    assert settings.log_level == "ERROR"


def test_env_file_names_another_file_to_read(env, tmp_path):
    (tmp_path / ".env").write_text("LOW_STOCK_THRESHOLD=7\n")
    (tmp_path / "staging.env").write_text("LOW_STOCK_THRESHOLD=3\n")
    env.setenv("ENV_FILE", str(tmp_path / "staging.env"))
    assert settings_from_environment().low_stock_threshold == 3


def test_without_database_url_or_the_embedded_server_the_error_says_what_to_set(
    monkeypatch, tmp_path
):
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)  # as if not installed
    with pytest.raises(SettingsError, match="set DATABASE_URL"):
        start_embedded_postgres(tmp_path / "pg")
    assert not (tmp_path / "pg").exists()
