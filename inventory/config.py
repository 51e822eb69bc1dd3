"""Settings, read once from the environment and an optional `.env` file.

Every setting is documented in `.env.example` and in the README's configuration table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from dotenv import find_dotenv, load_dotenv

DEFAULT_SECRET_KEY = "dev-only-secret-key-change-me-before-production"  # noqa: S105
MIN_SECRET_KEY_LENGTH = 32
ENVIRONMENTS = ("development", "production", "test")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names it."""


def normalise_database_url(url: str) -> str:
    """Point any `postgres[ql]://` URL at the psycopg 3 driver, keeping host, query and socket."""
    parts = urlsplit(url.strip())
    if parts.scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return urlunsplit(parts._replace(scheme="postgresql+psycopg"))
    raise SettingsError(
        f"DATABASE_URL must start with postgresql:// or postgresql+psycopg://, not {parts.scheme}://"
    )


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from error
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _choice(name: str, default: str, choices: tuple[str, ...], upper: bool = False) -> str:
    raw = os.environ.get(name, "").strip() or default
    value = raw.upper() if upper else raw.lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return value


def _list(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    """What the app needs to know about where it runs."""

    environment: str = "development"
    database_url: str | None = None
    secret_key: str = DEFAULT_SECRET_KEY
    access_token_expire_minutes: int = 30
    low_stock_threshold: int = 10
    log_level: str = "INFO"
    first_admin_username: str | None = None
    first_admin_password: str | None = None
    db_pool_size: int = 2
    db_max_overflow: int = 5
    db_pool_timeout_seconds: int = 10
    bcrypt_rounds: int = 12
    max_body_bytes: int = 1024 * 1024
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    login_max_failures_per_username: int = 5
    login_max_failures_per_address: int = 100
    login_failure_window_seconds: int = 900
    metrics_enabled: bool = False
    open_signup: bool = True
    metrics_token: str | None = None
    embedded_db_dir: str = ".pgdata"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def check_for_production(self) -> None:
        """Refuse to run in production with a guessable secret or no database."""
        if not self.is_production:
            return
        if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_KEY_LENGTH} "
                "characters in production; make one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if not self.database_url:
            raise SettingsError("DATABASE_URL must be set in production")
        if self.bcrypt_rounds < 12:
            raise SettingsError("BCRYPT_ROUNDS must be at least 12 in production")


def settings_from_environment() -> Settings:
    """Read the settings from the process environment (after loading `.env` if present).

    The `.env` is looked for in the working directory and its parents (not next to this file,
    python-dotenv's default, which misses it once the package is installed elsewhere); variables
    already in the environment win over it.
    """
    env_file = os.environ.get("ENV_FILE") or find_dotenv(".env", usecwd=True)
    load_dotenv(env_file, override=False)
    database_url = os.environ.get("DATABASE_URL", "").strip()
    settings = Settings(
        environment=_choice("ENVIRONMENT", "development", ENVIRONMENTS),
        database_url=normalise_database_url(database_url) if database_url else None,
        secret_key=os.environ.get("SECRET_KEY", "").strip() or DEFAULT_SECRET_KEY,
        access_token_expire_minutes=_int("ACCESS_TOKEN_EXPIRE_MINUTES", 30, minimum=1),
        low_stock_threshold=_int("LOW_STOCK_THRESHOLD", 10),
        log_level=_choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
        first_admin_username=os.environ.get("FIRST_ADMIN_USERNAME", "").strip() or None,
        first_admin_password=os.environ.get("FIRST_ADMIN_PASSWORD") or None,
        db_pool_size=_int("DB_POOL_SIZE", 2, minimum=1),
        db_max_overflow=_int("DB_MAX_OVERFLOW", 5),
        db_pool_timeout_seconds=_int("DB_POOL_TIMEOUT_SECONDS", 10, minimum=1),
        bcrypt_rounds=_int("BCRYPT_ROUNDS", 12, minimum=4),
        max_body_bytes=_int("MAX_BODY_BYTES", 1024 * 1024, minimum=1024),
        cors_origins=_list("CORS_ORIGINS"),
        login_max_failures_per_username=_int("LOGIN_MAX_FAILURES_PER_USERNAME", 5, minimum=1),
        login_max_failures_per_address=_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 100, minimum=1),
        login_failure_window_seconds=_int("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1),
        metrics_enabled=_bool("METRICS_ENABLED", False),
        open_signup=_bool("OPEN_SIGNUP", True),
        metrics_token=os.environ.get("METRICS_TOKEN", "").strip() or None,
        embedded_db_dir=os.environ.get("EMBEDDED_DB_DIR", "").strip() or ".pgdata",
    )
    settings.check_for_production()
    return settings


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read on first use."""
    return settings_from_environment()
