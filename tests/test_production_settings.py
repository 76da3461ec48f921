"""A production start refuses unsafe settings, naming the variable to fix."""
import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet

from app import create_app
from app.settings_check import UnsafeSettings, check_production_settings
from config import DEV_SECRET_PLACEHOLDER
from tests.conftest import dispose_app, make_config
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


def test_memory_rate_limit_storage_is_refused_unless_one_process_is_declared(fake):
    message = refusal(production_config(fake, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_ALLOW_MEMORY=False))
    assert "RATELIMIT_STORAGE_URI" in message and "RATELIMIT_ALLOW_MEMORY" in message
    app = create_app(production_config(fake, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_ALLOW_MEMORY=True))
    dispose_app(app)


def test_redis_rate_limit_storage_is_accepted():
    config = {
        "ENV_NAME": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "VERIFY_PROVIDER": "twilio",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "TRUSTED_HOSTS": ["sms2fa.example"],
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
        "PASSWORD_ARGON2_MEMORY_KIB": 19456, "PASSWORD_ARGON2_TIME_COST": 2, "PASSWORD_ARGON2_PARALLELISM": 1,
        "MAIL_DISABLED": True,
        "WEBAUTHN_RP_ID": "sms2fa.example",
        "WEBAUTHN_ORIGINS": ["https://sms2fa.example"],
        **{name: "set" for name in TWILIO_SETTINGS},
    }
    check_production_settings(SimpleNamespace(config=config))  # no exception


@pytest.mark.parametrize("hosts", [None, []], ids=["unset", "empty"])
def test_missing_trusted_hosts_are_refused(fake, hosts):
    assert "TRUSTED_HOSTS" in refusal(production_config(fake, TRUSTED_HOSTS=hosts))


def test_trusted_proxies_need_their_addresses(fake):
    message = refusal(production_config(fake, TRUSTED_PROXIES=1, FORWARDED_ALLOW_IPS=None))
    assert "FORWARDED_ALLOW_IPS" in message
    dispose_app(create_app(production_config(fake, TRUSTED_PROXIES=1, FORWARDED_ALLOW_IPS="10.0.0.5")))


@pytest.mark.parametrize(("base_url", "allowed", "named"), [
    ("https://twilio-proxy.internal", False, "ALLOW_TWILIO_BASE_URL"),
    ("http://twilio-proxy.internal", True, "https"),
    ("http://twilio-proxy.internal", False, "ALLOW_TWILIO_BASE_URL"),
], ids=["https-not-allowed", "http-allowed", "http-not-allowed"])
def test_a_twilio_base_url_must_be_https_and_meant(fake, base_url, allowed, named):
    message = refusal(production_config(fake, TWILIO_API_BASE_URL=base_url, ALLOW_TWILIO_BASE_URL=allowed))
    assert "TWILIO_API_BASE_URL" in message and named in message
    dispose_app(create_app(production_config(fake, TWILIO_API_BASE_URL="https://twilio-proxy.internal",
                                             ALLOW_TWILIO_BASE_URL=True)))


@pytest.mark.parametrize("secret", [
    "a" * 64,
    "password" * 8,
    "thisismysupersecretkeyforflaskapp",
    "0123456789abcdef" * 4,
    "MyFlaskApp-Production-Secret-Key-2026!",
], ids=["one-character", "repeated-word", "words", "repeated-pattern", "typed-phrase"])
def test_a_secret_key_of_low_entropy_is_refused(fake, secret):
    assert "SECRET_KEY" in refusal(production_config(fake, SECRET_KEY=secret))


@pytest.mark.parametrize("make", [lambda: secrets.token_hex(16), lambda: secrets.token_hex(32),
                                  lambda: secrets.token_urlsafe(32)], ids=["hex16", "hex32", "urlsafe32"])
def test_random_secret_keys_are_accepted(fake, make):
    for _ in range(20):
        dispose_app(create_app(production_config(fake, SECRET_KEY=make())))


@pytest.mark.parametrize("keys", [None, []], ids=["unset", "empty"])
def test_missing_encryption_keys_are_refused_saying_how_to_make_one(fake, keys):
    message = refusal(production_config(fake, ENCRYPTION_KEYS=keys))
    assert "ENCRYPTION_KEYS" in message
    assert 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"' in message


@pytest.mark.parametrize(("keys", "named"), [
    (["not-a-fernet-key"], "key 1 of 1"),
    ([Fernet.generate_key().decode(), Fernet.generate_key().decode()[:-2]], "key 2 of 2"),
    ([secrets.token_hex(32)], "key 1 of 1"),
    ([base64.urlsafe_b64encode(secrets.token_bytes(33)).decode()], "key 1 of 1"),
], ids=["text", "second-truncated", "a-secret-key-instead", "33-bytes"])
def test_a_malformed_encryption_key_is_refused_by_position_never_shown(fake, keys, named):
    message = refusal(production_config(fake, ENCRYPTION_KEYS=keys))
    assert "ENCRYPTION_KEYS" in message and named in message
    assert not [key for key in keys if key in message]


def test_several_encryption_keys_are_accepted(fake):
    keys = [Fernet.generate_key().decode() for _ in range(3)]
    dispose_app(create_app(production_config(fake, ENCRYPTION_KEYS=keys)))


# -- the password hash's cost: the OWASP minimum for Argon2id --------------------------------------

@pytest.mark.parametrize(("memory", "passes"), [(19455, 2), (8, 1), (47103, 1), (12287, 3), (9215, 4), (7167, 9)],
                         ids=["19455KiB-t2", "tests-cost", "46MiB-less-1-t1", "t3", "t4", "t9"])
def test_an_argon2_cost_below_the_owasp_minimum_is_refused_naming_it(fake, memory, passes):
    message = refusal(production_config(fake, PASSWORD_ARGON2_MEMORY_KIB=memory, PASSWORD_ARGON2_TIME_COST=passes))
    assert "PASSWORD_ARGON2_MEMORY_KIB" in message and "PASSWORD_ARGON2_TIME_COST" in message
    assert "OWASP" in message and "19456 KiB × 2" in message


@pytest.mark.parametrize(("memory", "passes", "lanes"), [
    (19456, 2, 1), ("19456", "2", "1"), (47104, 1, 1), (12288, 3, 1), (9216, 4, 1), (7168, 5, 1), (7168, 12, 1),
    (65536, 3, 4),
], ids=["default", "as-text", "46MiB-t1", "12MiB-t3", "9MiB-t4", "7MiB-t5", "7MiB-t12", "flask-security-too"])
def test_argon2_costs_at_or_above_the_owasp_minimum_start(fake, memory, passes, lanes):
    app = create_app(production_config(fake, PASSWORD_ARGON2_MEMORY_KIB=memory, PASSWORD_ARGON2_TIME_COST=passes,
                                       PASSWORD_ARGON2_PARALLELISM=lanes))
    try:
        assert (app.config["PASSWORD_ARGON2_MEMORY_KIB"], app.config["PASSWORD_ARGON2_TIME_COST"]) == \
            (int(memory), int(passes))
    finally:
        dispose_app(app)


@pytest.mark.parametrize(("name", "value"), [
    ("PASSWORD_ARGON2_MEMORY_KIB", "19 MiB"), ("PASSWORD_ARGON2_MEMORY_KIB", "0"), ("PASSWORD_ARGON2_TIME_COST", "two"),
    ("PASSWORD_ARGON2_TIME_COST", 0), ("PASSWORD_ARGON2_PARALLELISM", "0"), ("PASSWORD_ARGON2_PARALLELISM", "-1"),
])
def test_an_argon2_setting_that_is_no_whole_number_stops_any_start_naming_it(fake, name, value):
    with pytest.raises(SystemExit) as raised:
        create_app(make_config(fake, **{name: value}))  # testing, not production: checked all the same
    assert name in str(raised.value) and repr(value) in str(raised.value)


def test_argon2_memory_must_give_each_lane_8_kib(fake):
    with pytest.raises(SystemExit) as raised:
        create_app(make_config(fake, PASSWORD_ARGON2_MEMORY_KIB=8, PASSWORD_ARGON2_PARALLELISM=2))
    assert "PASSWORD_ARGON2_MEMORY_KIB" in str(raised.value) and "at least 16" in str(raised.value)


def test_production_process_with_a_cheap_argon2_cost_exits_naming_it():
    result = start_in_a_process(
        SECRET_KEY=secrets.token_hex(32), VERIFY_PROVIDER="twilio", TRUSTED_HOSTS="sms2fa.example",
        RATELIMIT_ALLOW_MEMORY="1", ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        PASSWORD_ARGON2_MEMORY_KIB="4096", **{name: "set" for name in TWILIO_SETTINGS},
    )
    assert result.returncode != 0
    assert "PASSWORD_ARGON2_MEMORY_KIB=4096" in result.stderr and "Traceback" not in result.stderr


def test_settings_are_not_checked_outside_production(fake):
    """Tests and development run with the console provider and a fixed secret."""
    config = {"ENV_NAME": "testing", "SECRET_KEY": "", "VERIFY_PROVIDER": "console", "RATELIMIT_STORAGE_URI": "memory://"}
    check_production_settings(SimpleNamespace(config=config))  # no exception


def start_in_a_process(**variables):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TWILIO_", "SECRET_KEY"))}
    # Set, even when empty: a developer's .env cannot fill them in (python-dotenv does not override).
    env.update({"APP_ENV": "production", "SECRET_KEY": "", "VERIFY_PROVIDER": "", "ENCRYPTION_KEYS": "",
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


def test_production_process_without_encryption_keys_exits_naming_it():
    result = start_in_a_process(
        SECRET_KEY=secrets.token_hex(32), VERIFY_PROVIDER="twilio", TRUSTED_HOSTS="sms2fa.example",
        RATELIMIT_ALLOW_MEMORY="1", **{name: "set" for name in TWILIO_SETTINGS},
    )
    assert result.returncode != 0
    assert "ENCRYPTION_KEYS" in result.stderr and "Fernet.generate_key()" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_process_with_encryption_keys_starts():
    result = start_in_a_process(
        SECRET_KEY=secrets.token_hex(32), VERIFY_PROVIDER="twilio", TRUSTED_HOSTS="sms2fa.example",
        WEBAUTHN_RP_ID="sms2fa.example", WEBAUTHN_ORIGINS="https://sms2fa.example",
        RATELIMIT_ALLOW_MEMORY="1", ENCRYPTION_KEYS=f" {Fernet.generate_key().decode()}, {Fernet.generate_key().decode()} ",
        MAIL_DISABLED="1", **{name: "set" for name in TWILIO_SETTINGS},
    )
    assert result.returncode == 0, result.stderr
