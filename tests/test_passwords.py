"""Password hashing: bcrypt through passlib, salted, clean with bcrypt 4.0.1, never truncated."""

import subprocess
import sys
import textwrap

import pytest

from inventory.auth import hash_password, verify_password
from tests.conftest import ROOT

PASSWORD_OF_72_BYTES = "é" * 36
PASSWORD_OF_74_BYTES = "é" * 37


def test_a_hashed_password_verifies():
    password_hash = hash_password("correct-horse-42")
    assert verify_password("correct-horse-42", password_hash)


def test_a_wrong_password_does_not_verify():
    password_hash = hash_password("correct-horse-42")
    assert not verify_password("correct-horse-43", password_hash)


def test_the_hash_is_bcrypt_and_not_the_password():
    password_hash = hash_password("correct-horse-42")
    assert password_hash.startswith("$2b$")
    assert "correct-horse-42" not in password_hash


def test_every_hash_has_its_own_salt():
    first, second = hash_password("correct-horse-42"), hash_password("correct-horse-42")
    assert first != second
    assert verify_password("correct-horse-42", first)
    assert verify_password("correct-horse-42", second)


def test_the_hash_uses_the_configured_rounds():
    assert hash_password("correct-horse-42").startswith("$2b$04$")


def test_a_password_of_72_bytes_round_trips():
    password_hash = hash_password(PASSWORD_OF_72_BYTES)
    assert verify_password(PASSWORD_OF_72_BYTES, password_hash)
    assert not verify_password("é" * 35, password_hash)


def test_a_password_over_72_bytes_is_refused_rather_than_truncated():
    with pytest.raises(ValueError, match="72 bytes"):
        hash_password(PASSWORD_OF_74_BYTES)


def test_a_password_over_72_bytes_never_matches_its_72_byte_prefix():
    password_hash = hash_password("a" * 72)
    assert not verify_password("a" * 72 + "b", password_hash)


def test_passlib_with_bcrypt_4_loads_without_errors_or_tracebacks():
    # passlib reads bcrypt's version once per process, on first use; a fresh interpreter shows
    # what that first load logs (bcrypt >= 4.1 makes it log an AttributeError traceback).
    script = textwrap.dedent(
        """
        import logging
        logging.basicConfig(level=logging.DEBUG)
        from inventory.auth import hash_password, verify_password
        assert verify_password("correct-horse-42", hash_password("correct-horse-42"))
        logging.getLogger("probe").warning("done")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING:probe:done" in result.stderr
    assert "detected 'bcrypt' backend, version '4.0.1'" in result.stderr
    assert "Traceback" not in result.stderr
    assert "error reading bcrypt version" not in result.stderr
    problems = [
        line
        for line in result.stderr.splitlines()
        if line.startswith(("WARNING", "ERROR", "CRITICAL")) and "probe" not in line
    ]
    assert problems == []


def test_hashing_and_verifying_log_no_warning(caplog):
    caplog.set_level("DEBUG")
    verify_password("correct-horse-42", hash_password("correct-horse-42"))
    assert [record for record in caplog.records if record.levelname not in ("DEBUG", "INFO")] == []
