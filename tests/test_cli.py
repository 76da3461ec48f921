"""The operator's `flask users` commands, through Flask's CLI runner."""
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import RecoveryCode, SecurityEvent, TrustedDevice, User
from tests.conftest import PASSWORD


def user_named(app, username):
    with app.app_context():
        return User.by_username(username)


def test_create_prompts_for_the_password_twice(app, runner):
    result = runner.invoke(args=["users", "create", "Carol"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Created Carol." in result.output
    with app.app_context():
        user = User.by_username("carol")
        assert user.check_password(PASSWORD)
        assert PASSWORD not in result.output


def test_create_refuses_a_mismatched_repeat(app, runner):
    result = runner.invoke(args=["users", "create", "carol"], input=f"{PASSWORD}\nsomething else\n")
    assert result.exit_code != 0
    assert user_named(app, "carol") is None


def test_create_has_no_password_argument(runner):
    result = runner.invoke(args=["users", "create", "carol", PASSWORD])
    assert result.exit_code == 2
    assert "unexpected extra argument" in result.output.lower()


def test_create_refuses_a_taken_or_short_name_and_short_password(app, runner):
    runner.invoke(args=["users", "create", "carol"], input=f"{PASSWORD}\n{PASSWORD}\n")
    taken = runner.invoke(args=["users", "create", "CAROL"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert taken.exit_code == 1 and "is taken" in taken.output
    short = runner.invoke(args=["users", "create", "ab"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert short.exit_code == 1 and "3 to 32" in short.output
    weak = runner.invoke(args=["users", "create", "dave"], input="short\nshort\n")
    assert weak.exit_code == 1 and "at least 8" in weak.output


@pytest.mark.parametrize(("password", "why"), [
    ("password", "too common"), ("qwertyuiop", "too common"), ("Summer2024!", "digits or symbols added"),
    ("nopqrstuvw", "repeated or sequential"), ("dave.jones!!", "can't contain your username"),
])
def test_create_refuses_an_easily_guessed_password_saying_why(app, runner, password, why):
    result = runner.invoke(args=["users", "create", "dave.jones"], input=f"{password}\n{password}\n")
    assert result.exit_code == 1 and why in result.output
    assert user_named(app, "dave.jones") is None


def test_create_stores_an_argon2id_hash(app, runner):
    assert runner.invoke(args=["users", "create", "carol"], input=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    assert user_named(app, "carol").password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_list_shows_2fa_state(auth, runner):
    auth.signup_with_2fa("alice")
    auth.register("bob")
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    lines = {line.split()[0]: line.split()[1] for line in result.output.splitlines()[1:]}
    assert lines == {"alice": "on", "bob": "off"}


def test_reset_2fa_clears_number_codes_devices_and_sessions(app, auth, client, runner):
    auth.signup_with_2fa("alice")
    auth.login("alice")
    response = auth.post("/auth/verify", {"code": auth.fake.last_code("+447400123456"), "remember_device": "y"})
    assert response.status_code == 302
    result = runner.invoke(args=["users", "reset-2fa", "alice"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = User.by_username("alice")
        assert user.phone is None
        count = lambda model: db.session.scalar(sa.select(sa.func.count()).select_from(model).where(model.user_id == user.id))
        assert count(RecoveryCode) == 0
        assert count(TrustedDevice) == 0
        kinds = db.session.scalars(sa.select(SecurityEvent.kind).where(SecurityEvent.user_id == user.id)).all()
        assert "2fa_reset_by_admin" in kinds
    # The browser that was logged in is logged out: its session token was rotated.
    assert client.get("/profile").status_code == 302


def test_unknown_user_is_a_clear_error(runner):
    for command in (["users", "reset-2fa", "nobody"], ["users", "delete", "nobody", "--yes"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 1
        assert "No user named 'nobody'" in result.output


def test_delete_removes_the_user_and_their_data(app, auth, runner):
    auth.signup_with_2fa("alice")
    result = runner.invoke(args=["users", "delete", "alice"], input="y\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert User.by_username("alice") is None
        for model in (SecurityEvent, RecoveryCode):
            assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0


def test_delete_asks_for_confirmation(app, auth, runner):
    auth.register("alice")
    result = runner.invoke(args=["users", "delete", "alice"], input="n\n")
    assert result.exit_code == 1
    assert user_named(app, "alice") is not None


# -- Issue 17: a user's methods ------------------------------------------------------------------

def test_methods_lists_each_way_and_remove_method_takes_one_or_all(app, runner, auth, fake):
    from tests.support import add_authenticator, method_id, two_factor_user

    two_factor_user(auth)
    add_authenticator(auth, "Tablet")
    listed = runner.invoke(args=["users", "methods", "alice"])
    assert listed.exit_code == 0, listed.output
    assert "Phone +44 ••• ••• •456" in listed.output and "Authenticator app 'Tablet'" in listed.output
    assert "+447400123456" not in listed.output

    tablet = method_id(app, kind="totp")
    removed = runner.invoke(args=["users", "remove-method", "alice", str(tablet)])
    assert removed.exit_code == 0 and "Removed Authenticator app 'Tablet' from alice" in removed.output
    assert not auth.client.get("/profile").status_code == 200, "the user's sessions are ended"
    assert user_named(app, "alice").method_count == 1
    assert runner.invoke(args=["users", "remove-method", "alice", str(tablet)]).exit_code == 1  # gone
    assert runner.invoke(args=["users", "remove-method", "alice"]).exit_code == 1  # neither id nor --all

    off = runner.invoke(args=["users", "remove-method", "alice", "--all"])
    assert off.exit_code == 0 and "2FA is off for alice" in off.output
    alice = user_named(app, "alice")
    assert not alice.two_factor_enabled and alice.recovery_codes_left == 0


def test_rotate_keys_re_encrypts_every_secret_under_the_first_key(app, runner, auth, fake):
    from cryptography.fernet import Fernet

    from app import encryption
    from app.models import TwoFactorMethod
    from tests.support import add_authenticator

    auth.register("alice")
    key, _ = add_authenticator(auth)
    old_keys = app.config["ENCRYPTION_KEYS"]
    new_key = Fernet.generate_key().decode()
    app.config["ENCRYPTION_KEYS"] = [new_key, *old_keys]
    app.extensions.pop("encryption", None)
    result = runner.invoke(args=["encryption", "rotate-keys"])
    assert result.exit_code == 0 and "Re-encrypted 1 of 1 secrets" in result.output, result.output
    with app.app_context():
        token = db.session.scalar(sa.select(TwoFactorMethod.secret))
    assert Fernet(new_key.encode()).decrypt(token.encode()).decode() == key
    assert runner.invoke(args=["encryption", "rotate-keys"]).output.startswith("Re-encrypted 0 of 1")
    app.config["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode()]  # a key that opens nothing
    app.extensions.pop("encryption", None)
    refused = runner.invoke(args=["encryption", "rotate-keys"])
    assert refused.exit_code == 1 and "Nothing was changed" in refused.output
    assert encryption is not None
