"""Passwords at today's standard: Argon2id at the settings' cost, werkzeug's scrypt and pbkdf2 hashes
of older accounts made anew at their next login, and new passwords that are not easily guessed."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from werkzeug.security import generate_password_hash

from app import password_rules, passwords
from app.extensions import db
from app.models import SecurityEvent, User
from tests.conftest import PASSWORD
from tests.support import add_authenticator, expire_sudo, text, two_factor_user

SCRYPT = "scrypt:1024:8:1"  # werkzeug's scrypt at a test's cost; production's old hashes were scrypt:32768:8:1
PBKDF2 = "pbkdf2:sha256:1000"
ARGON2_AT_TEST_COST = "$argon2id$v=19$m=8,t=1,p=1$"
ROOT = Path(__file__).resolve().parent.parent
HINT = "At least 8 characters. Avoid common passwords and your username."
COMMON = "This password is too common: it is on lists attackers try first."
USERNAME = "Your password can't contain your username"


def stored_hash(app, username="alice"):
    with app.app_context():
        return db.session.scalar(sa.select(User.password_hash).where(User.username_key == username.lower()))


def store_hash(app, password_hash, username="alice"):
    """Writes a hash straight into the row, as an account made before Argon2 holds it."""
    with app.app_context():
        db.session.execute(sa.update(User).where(User.username_key == username.lower())
                           .values(password_hash=password_hash))
        db.session.commit()


# -- the module ---------------------------------------------------------------------------------

@pytest.mark.app_settings(PASSWORD_ARGON2_MEMORY_KIB=64, PASSWORD_ARGON2_TIME_COST=3, PASSWORD_ARGON2_PARALLELISM=2)
def test_a_new_hash_is_argon2id_at_the_parameters_of_the_settings(app):
    with app.app_context():
        hashed = passwords.hash_password(PASSWORD)
        assert hashed.startswith("$argon2id$v=19$m=64,t=3,p=2$")
        assert passwords.verify_password(hashed, PASSWORD)
        assert not passwords.verify_password(hashed, PASSWORD + "x")
        assert not passwords.needs_rehash(hashed)
        assert hashed != passwords.hash_password(PASSWORD)  # salted


def test_the_shipped_defaults_are_the_owasp_minimum():
    from config import Config

    assert (Config.PASSWORD_ARGON2_MEMORY_KIB, Config.PASSWORD_ARGON2_TIME_COST,
            Config.PASSWORD_ARGON2_PARALLELISM) == ("19456", "2", "1")


@pytest.mark.parametrize("method", [SCRYPT, "scrypt", PBKDF2])
def test_werkzeug_hashes_of_older_accounts_still_verify_and_need_a_new_hash(app, method):
    old = generate_password_hash(PASSWORD, method=method)
    with app.app_context():
        assert passwords.verify_password(old, PASSWORD)
        assert not passwords.verify_password(old, PASSWORD + "x")
        assert passwords.needs_rehash(old)


@pytest.mark.parametrize(("memory", "passes", "lanes", "kind"), [
    (16, 1, 1, Type.ID), (8, 2, 1, Type.ID), (16, 1, 2, Type.ID), (8, 1, 1, Type.I),
], ids=["more-memory", "more-passes", "more-lanes", "argon2i"])
def test_an_argon2_hash_at_other_parameters_needs_a_new_hash(app, memory, passes, lanes, kind):
    other = PasswordHasher(memory_cost=memory, time_cost=passes, parallelism=lanes, type=kind).hash(PASSWORD)
    with app.app_context():
        assert passwords.verify_password(other, PASSWORD)
        assert passwords.needs_rehash(other)
        assert not passwords.needs_rehash(passwords.hash_password(PASSWORD))


@pytest.mark.parametrize("stored", ["", "x", PASSWORD, "$argon2id$v=19$m=8,t=1,p=1$garbage", "md5$abc$def",
                                    "plain:" + PASSWORD])
def test_anything_else_matches_nothing(app, stored):
    with app.app_context():
        assert not passwords.verify_password(stored, PASSWORD)
        assert passwords.needs_rehash(stored)


def test_the_dummy_hash_has_the_parameters_of_real_ones_and_is_made_once(app, fake):
    with app.app_context():
        dummy = passwords.dummy_password_hash()
        assert dummy.startswith(ARGON2_AT_TEST_COST)
        assert passwords.dummy_password_hash() is dummy
        assert not passwords.needs_rehash(dummy)
    from tests.conftest import build_app, dispose_app, make_config

    other = build_app(make_config(fake, PASSWORD_ARGON2_MEMORY_KIB=16, PASSWORD_ARGON2_TIME_COST=2))
    try:
        with other.app_context():
            assert passwords.dummy_password_hash().startswith("$argon2id$v=19$m=16,t=2,p=1$")
    finally:
        dispose_app(other)


# -- the upgrade at login -------------------------------------------------------------------------

@pytest.fixture
def statements(app):
    """The SQL statements and commits of the app's engine, in order, from now on."""
    seen = []
    with app.app_context():
        engine = db.engine
    record = lambda conn, cursor, statement, *args: seen.append(statement.split()[0] + " " + statement)  # noqa: E731
    commit = lambda conn: seen.append("COMMIT")  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", record)
    sa.event.listen(engine, "commit", commit)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)
    sa.event.remove(engine, "commit", commit)


@pytest.mark.parametrize("method", [SCRYPT, PBKDF2])
def test_an_old_hash_is_made_anew_at_the_next_login_in_the_logins_own_transaction(app, auth, statements, method):
    auth.register("alice")
    auth.logout()
    store_hash(app, generate_password_hash(PASSWORD, method=method))
    statements.clear()
    assert auth.login().headers["Location"] == "/profile"
    upgraded = stored_hash(app)
    assert upgraded.startswith(ARGON2_AT_TEST_COST)
    # One UPDATE of the user, written by the commit of the login's own event: one transaction.
    updates = [i for i, s in enumerate(statements) if s.startswith("UPDATE UPDATE users") and "password_hash" in s]
    assert len(updates) == 1
    event = next(i for i, s in enumerate(statements) if s.startswith("INSERT INSERT INTO security_events"))
    commits = [i for i, s in enumerate(statements) if s == "COMMIT"]
    assert next(c for c in commits if c > updates[0]) == next(c for c in commits if c > event)
    # The old password goes on working, and the new hash is not made again.
    auth.logout()
    assert auth.login().headers["Location"] == "/profile"
    assert stored_hash(app) == upgraded


def test_a_wrong_password_leaves_the_old_hash_untouched(app, auth):
    auth.register("alice")
    auth.logout()
    old = generate_password_hash(PASSWORD, method=SCRYPT)
    store_hash(app, old)
    assert auth.login(password=PASSWORD + "x").status_code == 401
    assert stored_hash(app) == old
    assert auth.login().status_code == 302
    assert stored_hash(app).startswith(ARGON2_AT_TEST_COST)


def test_an_argon2_hash_at_an_older_cost_is_made_anew_at_the_cost_of_the_settings(app, auth):
    auth.register("alice")
    auth.logout()
    store_hash(app, PasswordHasher(memory_cost=16, time_cost=1, parallelism=1).hash(PASSWORD))
    assert auth.login().status_code == 302
    assert stored_hash(app).startswith(ARGON2_AT_TEST_COST)


def test_a_2fa_user_gets_the_new_hash_at_the_password_step(app, auth, fake):
    two_factor_user(auth)
    auth.logout()
    store_hash(app, generate_password_hash(PASSWORD, method=SCRYPT))
    assert auth.login().headers["Location"] == "/auth/verify"
    assert stored_hash(app).startswith(ARGON2_AT_TEST_COST)


def test_confirming_its_you_makes_the_hash_anew_too(app, auth, client):
    auth.register("alice")
    store_hash(app, generate_password_hash(PASSWORD, method=SCRYPT))
    expire_sudo(client)
    assert auth.post("/auth/reauthenticate", {"password": PASSWORD}).status_code == 302
    assert stored_hash(app).startswith(ARGON2_AT_TEST_COST)


def test_confirming_its_you_with_an_app_writes_the_new_hash_though_the_code_step_writes_nothing(app, auth, client):
    auth.register("alice")
    add_authenticator(auth)
    store_hash(app, generate_password_hash(PASSWORD, method=SCRYPT))
    expire_sudo(client)
    response = auth.post("/auth/reauthenticate", {"password": PASSWORD})
    assert response.headers["Location"].startswith("/auth/reauthenticate/code")
    assert stored_hash(app).startswith(ARGON2_AT_TEST_COST)


def test_an_unknown_username_costs_an_argon2_check_at_the_same_parameters(app, auth, monkeypatch):
    checked = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda stored, typed: checked.append(stored) or real(stored, typed))
    assert auth.login("mallory", PASSWORD).status_code == 401
    assert len(checked) == 1 and checked[0].startswith(ARGON2_AT_TEST_COST)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SecurityEvent)) == 1


# -- new passwords that are not easily guessed ----------------------------------------------------

REFUSED = [
    ("password", COMMON),
    ("123456789", COMMON),
    ("qwertyuiop", COMMON),
    ("PassWord", COMMON),
    ("  iloveyou  ", COMMON),
    ("Password2024!", "This password is a common one with digits or symbols added"),
    ("dragon1987", "This password is a common one with digits or symbols added"),
    ("zzzzzzzzzzzz", "repeated or sequential characters"),
    ("abcabcabcabc", "repeated or sequential characters"),
    ("mnopqrstuv", "repeated or sequential characters"),
    ("alice_smith", USERNAME),
    ("ALICE_SMITH", USERNAME),
    ("my alice_smith login", USERNAME),
    ("alicesmith was here", USERNAME),
]


@pytest.mark.parametrize(("password", "message"), REFUSED)
def test_sign_up_refuses_an_easily_guessed_password_saying_why(app, auth, client, password, message):
    response = auth.register("alice_smith", password)
    assert response.status_code == 400
    assert message in text(response)
    with app.app_context():
        assert User.by_username("alice_smith") is None


@pytest.mark.parametrize(("password", "message"), REFUSED)
def test_a_password_change_refuses_an_easily_guessed_password_saying_why(app, auth, password, message):
    auth.register("alice_smith")
    auth.confirm_its_you_to("/profile/password")
    before = stored_hash(app, "alice_smith")
    response = auth.post("/profile/password", {"password": password, "password2": password})
    assert response.status_code == 400
    assert message in text(response)
    assert stored_hash(app, "alice_smith") == before


@pytest.mark.parametrize("password", [PASSWORD, "purple otter lamp", "Tr0ub4dour&3", "k9wren!t", "smith alice"])
def test_a_strong_phrase_is_accepted_at_sign_up_and_at_a_change(app, auth, password):
    assert auth.register("alice_smith", password).headers["Location"] == "/profile"
    auth.reauthenticate(password=password, url="/auth/reauthenticate?next=/profile/password")
    new = "another " + password
    assert auth.post("/profile/password", {"password": new, "password2": new}).status_code == 302
    assert auth.logout().status_code == 302
    assert auth.login("alice_smith", new).status_code == 302


def test_a_short_password_gets_the_length_message_only(auth):
    page = text(auth.register("alice", "pass"))
    assert "Your password must be at least 8 characters." in page
    assert "too common" not in page and "easy to guess" not in page


@pytest.mark.parametrize("url", ["/auth/register", "/profile/password"])
def test_the_hint_says_the_rule_before_the_first_try(auth, client, url):
    if url == "/profile/password":
        auth.register("alice")
        auth.confirm_its_you_to(url)
    page = text(client.get(url))
    assert HINT in page
    assert not re.search(r"(?i)must (contain|include)|uppercase|special character", page)  # no composition rules


def test_the_list_is_lowercased_sorted_printable_and_of_the_stated_size():
    lines = password_rules.LIST_FILE.read_text(encoding="ascii").splitlines()
    assert len(lines) == 39_761
    assert sum(len(line) >= 8 for line in lines) == 16_285
    assert lines == sorted(set(lines))
    assert all(re.fullmatch(r"[\x20-\x7e]{4,128}", line) and line == line.lower().strip() for line in lines)


def test_the_rules_as_a_plain_function():
    problem = password_rules.password_problem
    assert problem(PASSWORD) is None
    assert problem("password") == password_rules.COMMON
    assert problem("monkey!!2024") == password_rules.COMMON_WITH_ADDITIONS
    assert problem("87654321x") is None and problem("98765432") == password_rules.COMMON
    assert problem("lmnopqrs") == password_rules.PATTERN
    assert problem("xyzw" * 5) == password_rules.PATTERN
    assert problem("hello carol!", "Carol") == password_rules.USERNAME
    assert problem("hello carol!", None) is None
    assert problem("bo and me forever", "bo") is None  # a username under 3 characters counts for nothing
    assert problem("line\nbreak password") is None  # never matches across the list's lines


MEMORY_PROBE = """
import threading
from argon2 import PasswordHasher
import app.passwords

def rss_mb():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:")) / 1024

hasher = PasswordHasher(memory_cost=19456, time_cost=1, parallelism=1)
hashed = hasher.hash("pw")
before = rss_mb()
threads = [threading.Thread(target=lambda: [hasher.verify(hashed, "pw") for _ in range(3)]) for _ in range(3)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(rss_mb() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/self/status")
def test_a_worker_gives_the_memory_of_a_check_back_when_it_ends():
    """Three threads checking 19 MiB hashes: without app.passwords' fixed mmap threshold glibc
    would keep about 19 MiB a thread; with it, a few MiB at most stay."""
    done = subprocess.run([sys.executable, "-c", MEMORY_PROBE], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True)
    assert float(done.stdout) < 10
