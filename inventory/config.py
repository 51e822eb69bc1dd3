"""Settings, read once from the environment and an optional `.env` file.

Every setting is documented in `.env.example` and in the README's configuration table.
"""

from __future__ import annotations

import os
from dataclasses import Field, dataclass, field, fields
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dotenv import find_dotenv, load_dotenv

DEFAULT_SECRET_KEY = "dev-only-secret-key-change-me-before-production"  # noqa: S105
MIN_SECRET_KEY_LENGTH = 32
ENVIRONMENTS = ("development", "production", "test")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names it."""


def normalise_database_url(url: str, setting: str = "DATABASE_URL") -> str:
    """Point any `postgres[ql]://` URL at the psycopg 3 driver, keeping host, query and socket."""
    parts = urlsplit(url.strip())
    if parts.scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return urlunsplit(parts._replace(scheme="postgresql+psycopg"))
    raise SettingsError(
        f"{setting} must start with postgresql:// or postgresql+psycopg://, not {parts.scheme}://"
    )


def setting(default: Any, *, minimum: float | None = None, choices: tuple[str, ...] = ()) -> Any:
    """A setting's default and its limits; its environment variable is its name in capitals."""
    return field(default=default, metadata={"minimum": minimum, "choices": choices})


@dataclass(frozen=True)
class Settings:
    """What the app needs to know about where it runs: each field is read from the environment
    variable of its name in capitals (`db_pool_size` from DB_POOL_SIZE), else its default."""

    environment: str = setting("development", choices=ENVIRONMENTS)
    database_url: str | None = setting(None)
    database_replica_url: str | None = setting(None)
    replica_max_lag_seconds: int = setting(5, minimum=1)
    secret_key: str = setting(DEFAULT_SECRET_KEY)
    access_token_expire_minutes: int = setting(30, minimum=1)
    refresh_token_expire_days: int = setting(14, minimum=1)
    low_stock_threshold: int = setting(10, minimum=0)
    log_level: str = setting("INFO", choices=LOG_LEVELS)
    first_admin_username: str | None = setting(None)
    first_admin_password: str | None = setting(None)
    db_pool_size: int = setting(2, minimum=1)
    db_max_overflow: int = setting(5, minimum=0)
    db_pool_timeout_seconds: int = setting(10, minimum=1)
    bcrypt_rounds: int = setting(12, minimum=4)
    max_body_bytes: int = setting(1024 * 1024, minimum=1024)
    cors_origins: tuple[str, ...] = setting(())
    login_max_failures_per_username: int = setting(5, minimum=1)
    login_max_failures_per_address: int = setting(100, minimum=1)
    login_failure_window_seconds: int = setting(900, minimum=1)
    metrics_enabled: bool = setting(False)
    open_signup: bool = setting(True)
    metrics_token: str | None = setting(None)
    embedded_db_dir: str = setting(".pgdata")
    webhook_allow_private_targets: bool = setting(False)
    webhook_retry_schedule: tuple[float, ...] = setting(
        (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0), minimum=0
    )
    webhook_timeout_seconds: float = setting(10.0, minimum=0.1)
    webhook_disable_after_seconds: int = setting(86400, minimum=1)
    worker_concurrency: int = setting(8, minimum=1)
    worker_heartbeat_seconds: float = setting(10.0, minimum=0.1)
    worker_stalled_after_seconds: float = setting(30.0, minimum=0.1)
    embedding_model: str = setting("wordllama:l2_supercat_256")
    embedding_api_url: str | None = setting(None)
    embedding_api_key: str | None = setting(None)
    pgvector_iterative_scan: str = setting("auto", choices=("auto", "off"))
    request_read_timeout_seconds: int = setting(15, minimum=1)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def check_signing_key(self) -> None:
        """Refuse a guessable token signing key: the development key written above (for
        `make run` and the tests only), or one too short to be random. `serve` and production
        check it at start-up."""
        if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_KEY_LENGTH} "
                "characters to serve or run in production (the development key is for "
                "`make run` and tests only); make one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )

    def check_for_production(self) -> None:
        """Refuse to run in production with a guessable secret or no database."""
        if not self.is_production:
            return
        self.check_signing_key()
        if not self.database_url:
            raise SettingsError("DATABASE_URL must be set in production")
        if self.bcrypt_rounds < 12:
            raise SettingsError("BCRYPT_ROUNDS must be at least 12 in production")


UNSTRIPPED = frozenset({"first_admin_password"})
"""Settings taken exactly as given (a password may begin or end with a space)."""


def _parse(setting_field: Field, raw: str) -> Any:
    """The value of one setting from its environment text; SettingsError names the variable."""
    name, kind = setting_field.name.upper(), setting_field.type
    minimum, choices = setting_field.metadata["minimum"], setting_field.metadata["choices"]
    if choices:
        for choice in choices:
            if raw.lower() == choice.lower():
                return choice
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    if kind == "int":
        try:
            number = int(raw)
        except ValueError as error:
            raise SettingsError(f"{name} must be a whole number, not {raw!r}") from error
        if minimum is not None and number < minimum:
            raise SettingsError(f"{name} must be at least {minimum}")
        return number
    if kind == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, not {raw!r}")
    if kind == "float":
        return _seconds(name, raw, minimum)
    if kind == "tuple[float, ...]":
        return tuple(_seconds(name, item, minimum) for item in raw.split(","))
    if kind == "tuple[str, ...]":
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    if name in ("DATABASE_URL", "DATABASE_REPLICA_URL"):
        return normalise_database_url(raw, name)
    return raw


def _seconds(name: str, raw: str, minimum: float | None) -> float:
    try:
        number = float(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from error
    if not number < 10**7 or (minimum is not None and number < minimum):
        raise SettingsError(f"{name} must be between {minimum or 0:g} and 10000000 seconds")
    return number


def settings_from_environment() -> Settings:
    """Read the settings from the process environment (after loading `.env` if present).

    The `.env` is looked for in the working directory and its parents (not next to this file,
    python-dotenv's default, which misses it once the package is installed elsewhere); variables
    already in the environment win over it. An empty variable counts as unset.
    """
    env_file = os.environ.get("ENV_FILE") or find_dotenv(".env", usecwd=True)
    load_dotenv(env_file, override=False)
    values = {}
    for setting_field in fields(Settings):
        raw = os.environ.get(setting_field.name.upper(), "")
        if setting_field.name not in UNSTRIPPED:
            raw = raw.strip()
        if raw:
            values[setting_field.name] = _parse(setting_field, raw)
    settings = Settings(**values)
    settings.check_for_production()
    return settings


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read on first use."""
    return settings_from_environment()
