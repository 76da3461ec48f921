"""Secrets at rest: the first ENCRYPTION_KEYS key encrypts, every key decrypts, rotation moves on."""
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask

from app import encryption
from app.encryption import Undecryptable
from config import DevelopmentConfig, TestingConfig, keys_from_setting

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
UNKNOWN_KEY = Fernet.generate_key().decode()


def app_with(*keys):
    app = Flask(__name__)
    app.config["ENCRYPTION_KEYS"] = list(keys)
    return app


def made_under(key, text):
    """A token made by an app whose only key is `key`."""
    with app_with(key).app_context():
        return encryption.encrypt(text)


def opens(key, token):
    try:
        Fernet(key).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


@pytest.mark.parametrize("text", ["JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "", "ünïcødé ✓"])
def test_a_secret_comes_back_as_it_went_in(text):
    with app_with(NEW_KEY).app_context():
        token = encryption.encrypt(text)
        assert isinstance(token, str) and token.isascii()
        assert text not in token or not text
        assert encryption.decrypt(token) == text


def test_the_same_secret_encrypts_differently_each_time():
    with app_with(NEW_KEY).app_context():
        assert encryption.encrypt("same") != encryption.encrypt("same")


def test_the_first_key_encrypts_and_every_key_decrypts():
    old_token = made_under(OLD_KEY, "old secret")
    with app_with(NEW_KEY, OLD_KEY).app_context():
        new_token = encryption.encrypt("new secret")
        assert encryption.decrypt(old_token) == "old secret"
        assert encryption.decrypt(new_token) == "new secret"
    assert opens(NEW_KEY, new_token) and not opens(OLD_KEY, new_token)


def test_rotation_moves_a_token_to_the_first_key():
    old_token = made_under(OLD_KEY, "secret")
    with app_with(NEW_KEY, OLD_KEY).app_context():
        rotated = encryption.rotate(old_token)
    assert MultiFernet([Fernet(NEW_KEY)]).decrypt(rotated.encode()) == b"secret"
    assert not opens(NEW_KEY, old_token)
    assert not opens(OLD_KEY, rotated)
    with app_with(NEW_KEY).app_context():
        assert encryption.decrypt(rotated) == "secret"


@pytest.mark.parametrize("token", [
    made_under(UNKNOWN_KEY, "secret"),
    made_under(NEW_KEY, "secret")[:-4] + "AAAA",
    "not a token",
    "",
    "ünïcødé",
], ids=["unknown-key", "damaged", "garbage", "empty", "non-ascii"])
def test_a_token_no_key_opens_is_undecryptable(token):
    with app_with(NEW_KEY, OLD_KEY).app_context():
        with pytest.raises(Undecryptable) as raised:
            encryption.decrypt(token)
        with pytest.raises(Undecryptable):
            encryption.rotate(token)
    assert token not in str(raised.value) or not token
    assert NEW_KEY not in str(raised.value) and OLD_KEY not in str(raised.value)


def test_the_keyring_is_built_once_per_app():
    app = app_with(NEW_KEY)
    with app.app_context():
        encryption.encrypt("one")
        built = app.extensions[encryption.EXTENSION_NAME]
        encryption.decrypt(encryption.encrypt("two"))
        assert app.extensions[encryption.EXTENSION_NAME] is built
    with app_with(OLD_KEY).app_context():
        token = encryption.encrypt("other app")
    assert opens(OLD_KEY, token) and not opens(NEW_KEY, token)


@pytest.mark.parametrize("keys", [[], [NEW_KEY, "not-a-fernet-key"], NEW_KEY], ids=["none", "malformed", "a-string"])
def test_bad_keys_are_named_by_their_setting_never_shown(keys):
    app = Flask(__name__)
    app.config["ENCRYPTION_KEYS"] = keys
    with app.app_context(), pytest.raises(ValueError) as raised:
        encryption.encrypt("secret")
    message = str(raised.value)
    assert "ENCRYPTION_KEYS" in message
    assert NEW_KEY not in message and "not-a-fernet-key" not in message


def test_rotate_all_reencrypts_the_rows_under_an_old_key():
    rows = [
        SimpleNamespace(totp_secret=made_under(OLD_KEY, "first")),
        SimpleNamespace(totp_secret=made_under(NEW_KEY, "second")),
        SimpleNamespace(totp_secret=None),
        SimpleNamespace(totp_secret=made_under(OLD_KEY, "third")),
    ]
    untouched = rows[1].totp_secret
    with app_with(NEW_KEY, OLD_KEY).app_context():
        assert encryption.rotate_all(rows, "totp_secret") == 2
        assert rows[1].totp_secret == untouched and rows[2].totp_secret is None
        assert encryption.rotate_all(rows, "totp_secret") == 0
    with app_with(NEW_KEY).app_context():
        assert [encryption.decrypt(row.totp_secret) for row in rows if row.totp_secret] == ["first", "second", "third"]


def test_rotate_all_stops_at_a_token_no_key_opens():
    rows = [SimpleNamespace(secret=made_under(OLD_KEY, "fine")), SimpleNamespace(secret=made_under(UNKNOWN_KEY, "lost"))]
    with app_with(NEW_KEY, OLD_KEY).app_context(), pytest.raises(Undecryptable) as raised:
        encryption.rotate_all(rows, "secret")
    assert "row 1" in str(raised.value) and "secret" in str(raised.value)


def test_rotate_all_of_nothing_changes_nothing():
    with app_with(NEW_KEY).app_context():
        assert encryption.rotate_all([], "secret") == 0


def test_the_setting_is_a_comma_separated_list_first_key_first():
    assert keys_from_setting(f" {NEW_KEY} ,{OLD_KEY},, ", secret_key="ignored") == [NEW_KEY, OLD_KEY]


@pytest.mark.parametrize("value", [None, "", " , "], ids=["unset", "empty", "only-commas"])
def test_without_the_setting_one_key_is_derived_from_the_secret_key(value):
    derived = keys_from_setting(value, secret_key="one secret key")
    assert len(derived) == 1 and encryption.is_fernet_key(derived[0])
    assert derived == keys_from_setting("", secret_key="one secret key")  # stable across restarts
    assert derived != keys_from_setting("", secret_key="another secret key")
    assert "one secret key" not in derived[0]


def test_without_the_setting_or_a_secret_key_there_is_no_key():
    assert keys_from_setting("", secret_key=None) == [] and keys_from_setting(None) == []


def test_development_and_tests_have_a_key_without_setup():
    assert TestingConfig.ENCRYPTION_KEYS == keys_from_setting("", TestingConfig.SECRET_KEY)
    assert DevelopmentConfig.ENCRYPTION_KEYS and all(encryption.is_fernet_key(key) for key in DevelopmentConfig.ENCRYPTION_KEYS)


# Ids of their own for the keys, which are made afresh in each process: every pytest-xdist worker
# must collect the same test names.
@pytest.mark.parametrize(("key", "valid"), [
    pytest.param(NEW_KEY, True, id="key-True"), pytest.param(NEW_KEY.encode(), True, id="key-as-bytes-True"),
    ("not-a-fernet-key", False), pytest.param(NEW_KEY[:-2], False, id="key-cut-short-False"), ("", False), (None, False),
])
def test_is_fernet_key(key, valid):
    assert encryption.is_fernet_key(key) is valid
