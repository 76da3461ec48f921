"""A production start refuses unsafe settings, naming the variable to fix."""
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from app import create_app
from app.settings_check import UnsafeSettings, check_production_settings
from config import DEV_SECRET_PLACEHOLDER
from tests.conftest import dispose_app
from tests.support import production_config

ROOT = Path(__file__).resolve().parent.parent
TWILIO_SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_VERIFY_SERVICE_ID")


def refusal(config):
    with pytest.raises(UnsafeSettings) as raised:
        create_app(config)
    assert isinstance(raised.value, SystemExit)
    message = str(raised.value)
    assert message and raised.value.code == message  # exits non-zero with the sentence on stderr
    return message


def test_safe_production_settings_start(fake):
    app = create_app(production_config(fake))
    try:
        assert app.config["ENV_NAME"] == "production"
    finally:
        dispose_app(app)


@pytest.mark.parametrize("secret", [None, ""], ids=["unset", "empty"])
def test_missing_secret_key_is_refused(fake, secret):
    assert "SECRET_KEY" in refusal(production_config(fake, SECRET_KEY=secret))


@pytest.mark.parametrize(
    "secret",
    [DEV_SECRET_PLACEHOLDER, "dev", "secret", "changeme", "short-but-random-7f3a"],
    ids=["placeholder", "dev", "secret", "changeme", "short"],
)
def test_default_or_weak_secret_key_is_refused(fake, secret):
    assert "SECRET_KEY" in refusal(production_config(fake, SECRET_KEY=secret))


def test_console_provider_is_refused(fake):
    assert "VERIFY_PROVIDER" in refusal(production_config(fake, VERIFY_PROVIDER="console"))


@pytest.mark.parametrize("name", TWILIO_SETTINGS)
@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_each_missing_twilio_setting_is_refused(fake, name, value):
    message = refusal(production_config(fake, **{name: value}))
    assert name in message
    assert not [other for other in TWILIO_SETTINGS if other != name and other in message]


def test_memory_rate_limit_storage_is_warned_about(fake, caplog):
    caplog.set_level(logging.WARNING)
    app = create_app(production_config(fake, RATELIMIT_STORAGE_URI="memory://"))
    dispose_app(app)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "RATELIMIT_STORAGE_URI" in r.getMessage()]
    assert warnings, [r.getMessage() for r in caplog.records]


def test_redis_rate_limit_storage_is_not_warned_about(caplog):
    caplog.set_level(logging.WARNING)
    config = {
        "ENV_NAME": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "VERIFY_PROVIDER": "twilio",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        **{name: "set" for name in TWILIO_SETTINGS},
    }
    check_production_settings(SimpleNamespace(config=config))
    assert not [r for r in caplog.records if "RATELIMIT_STORAGE_URI" in r.getMessage()]


def test_settings_are_not_checked_outside_production(fake):
    """Tests and development run with the console provider and a fixed secret."""
    config = {"ENV_NAME": "testing", "SECRET_KEY": "", "VERIFY_PROVIDER": "console", "RATELIMIT_STORAGE_URI": "memory://"}
    check_production_settings(SimpleNamespace(config=config))  # no exception


def start_in_a_process(**variables):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TWILIO_", "SECRET_KEY"))}
    # Set, even when empty: a developer's .env cannot fill them in (python-dotenv does not override).
    env.update({"APP_ENV": "production", "SECRET_KEY": "", "VERIFY_PROVIDER": "",
                "DATABASE_URL": "sqlite://", "RATELIMIT_STORAGE_URI": "memory://"})
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-c", "from main import app"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )


def test_production_process_without_secret_key_exits_naming_it():
    result = start_in_a_process()
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr  # a sentence, not a stack trace


def test_production_process_with_console_provider_exits_naming_it():
    result = start_in_a_process(SECRET_KEY=secrets.token_hex(32), VERIFY_PROVIDER="console")
    assert result.returncode != 0
    assert "VERIFY_PROVIDER" in result.stderr
    assert "Traceback" not in result.stderr
