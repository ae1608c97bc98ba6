from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console import env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("1", True), ("Off", False), ("no", False), ("", False)]
)
def test_booleans(monkeypatch, value, expected):
    monkeypatch.setenv("FLAG", value)

    assert env.boolean("FLAG", False) is expected


def test_a_malformed_boolean_names_the_variable(monkeypatch):
    monkeypatch.setenv("FLAG", "ture")

    with pytest.raises(env.ConfigurationError, match=r"FLAG must be a boolean.*'ture'"):
        env.boolean("FLAG", False)


def test_integers_are_checked(monkeypatch):
    monkeypatch.setenv("COUNT", "three")
    with pytest.raises(env.ConfigurationError, match="COUNT must be a whole number"):
        env.integer("COUNT", 1)

    monkeypatch.setenv("COUNT", "0")
    with pytest.raises(env.ConfigurationError, match="COUNT must be at least 1, got 0"):
        env.integer("COUNT", 1, minimum=1)


def test_lists_refuse_empty_items(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.test, b.test")
    assert env.string_list("HOSTS", []) == ["a.test", "b.test"]

    monkeypatch.setenv("HOSTS", "a.test,,b.test")
    with pytest.raises(env.ConfigurationError, match="HOSTS must be a comma-separated list"):
        env.string_list("HOSTS", [])


def test_urls_must_have_a_known_scheme(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://db/ferry")

    with pytest.raises(env.ConfigurationError, match="DATABASE_URL must start with one of"):
        env.url("DATABASE_URL", "", schemes={"sqlite": "", "postgres": ""})


def test_a_value_may_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))

    assert env.string("SECRET_KEY") == "from-a-file"

    monkeypatch.setenv("SECRET_KEY", "direct")
    with pytest.raises(env.ConfigurationError, match="SECRET_KEY and SECRET_KEY_FILE are both"):
        env.string("SECRET_KEY")


def test_an_unreadable_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))

    with pytest.raises(env.ConfigurationError, match="SECRET_KEY_FILE points at"):
        env.string("SECRET_KEY")


def _manage(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    # The browser tests allow async-unsafe calls in this process; a server must not.
    dropped = {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG must be a boolean"),
        ("DATABASE_URL", "oracle://x/y", "DATABASE_URL must start with one of"),
        ("CELERY_BROKER_URL", "kafka://x", "CELERY_BROKER_URL must start with one of"),
        ("CELERY_WORKER_CONCURRENCY", "many", "CELERY_WORKER_CONCURRENCY must be a whole number"),
        ("FERRY_ENCRYPTION_KEY", "short", "FERRY_ENCRYPTION_KEY must be a comma-separated list"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of"),
    ],
)
def test_a_malformed_variable_stops_start_up(tmp_path, variable, value, message):
    result = _manage("check", FERRY_VAR_DIR=str(tmp_path), **{variable: value})

    assert result.returncode == 2
    assert result.stderr.startswith("Configuration error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_secret_key_is_generated_once_into_var(tmp_path):
    first = _manage("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)",
                    FERRY_VAR_DIR=str(tmp_path))  # fmt: skip
    second = _manage("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)",
                     FERRY_VAR_DIR=str(tmp_path))  # fmt: skip

    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret_key").read_text().strip()
    assert len(key) >= 50
    assert first.stdout.split()[-1] == second.stdout.split()[-1] == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_the_secret_key_is_not_in_the_repository():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()

    assert not [path for path in tracked if path.startswith("var/") or "secret_key" in path]


def test_json_logs_are_one_object_a_line(tmp_path):
    code = (
        "import logging; "
        "logging.getLogger('ferry').warning('hello %s', 'there', extra={'delivery': 7})"
    )
    result = _manage("shell", "-c", code, FERRY_VAR_DIR=str(tmp_path), LOG_FORMAT="json")

    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello there"
    assert (line["level"], line["logger"], line["delivery"]) == ("WARNING", "ferry", 7)


def test_the_documented_production_settings_pass_the_deploy_check(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        FERRY_VAR_DIR=str(tmp_path),
        SECRET_KEY="production-" + "k" * 60,
        ALLOWED_HOSTS="ferry.example.com",
        CSRF_TRUSTED_ORIGINS="https://ferry.example.com",
        FERRY_HTTPS="true",
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
