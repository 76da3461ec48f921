"""Recovery codes: shown once, stored as hashes, each usable once on /auth/recovery, even in a race."""
import hashlib
import re
import threading

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from app import recovery
from app.extensions import db
from app.models import RecoveryCode, SecurityEvent, User
from config import Config, ProductionConfig
from tests.conftest import (
    CSRF_INPUT,
    PASSWORD,
    PHONE,
    AuthActions,
    build_app,
    dispose_app,
    make_config,
    page_text,
    postgres_url,
)
from tests.support import NO_SEND_LIMITS, assert_sudo_needed, event_kinds, logged_in

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)  # several logins per test

ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 symbols: no 0/o, no 1/l
CODE_FORM = re.compile(f"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")
CODE_ITEM = re.compile(r'<li class="col">([^<]*)</li>')
NOT_VALID = "That recovery code is not valid or was already used."
BOB_PHONE, BOB_NATIONAL = "+447400123457", "07400 123457"


def shown_codes(response):
    return CODE_ITEM.findall(page_text(response))


def enrol(auth, username="alice", national="07400 123456", phone=PHONE):
    """Sign up and turn 2FA on; returns the recovery-codes page (the codes are not yet saved)."""
    assert auth.register(username).status_code == 302
    assert auth.start_enrolment(national).status_code == 302
    response = auth.confirm(phone=phone)
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile/recovery-codes"
    return auth.client.get("/profile/recovery-codes")


def enrol_and_save(auth, username="alice", national="07400 123456", phone=PHONE):
    """A 2FA user who saved the codes and logged out; returns the codes."""
    codes = shown_codes(enrol(auth, username, national, phone))
    assert len(codes) == 10
    assert auth.post("/profile/recovery-codes").status_code == 302
    assert auth.logout().status_code == 302
    return codes


def password_step(auth, username="alice"):
    response = auth.login(username)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/verify"


def use_code(auth, code):
    return auth.post("/auth/recovery", {"code": code})


def remaining(app, username="alice"):
    with app.app_context():
        user = User.by_username(username)
        query = sa.select(sa.func.count()).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        return db.session.scalar(query)


def spend(app, codes, username="alice"):
    """Uses codes outside a login, as if on earlier days."""
    with app.app_context():
        user = User.by_username(username)
        for code in codes:
            assert recovery.use(user, code) is not None


# -- Shown once ---------------------------------------------------------------------------------

def test_turning_2fa_on_shows_ten_distinct_codes_in_the_grouped_form(auth):
    page = enrol(auth)
    assert page.status_code == 200
    codes = shown_codes(page)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert len(set(ALPHABET)) == 32
    for code in codes:
        assert CODE_FORM.match(code), code
    text = page_text(page)
    assert "This is the only time they are shown" in text
    assert 'href="/profile/recovery-codes.txt"' in text and "Download as .txt" in text
    assert 'value="I have saved my recovery codes"' in text


def test_download_is_a_text_attachment_with_the_same_codes(auth, client):
    codes = shown_codes(enrol(auth))
    response = client.get("/profile/recovery-codes.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "filename=recovery-codes.txt" in disposition
    assert "no-store" in response.headers.get("Cache-Control", "")
    listed = [line for line in page_text(response).splitlines() if CODE_FORM.match(line)]
    assert listed == codes
    assert "alice" in page_text(response)


def test_i_have_saved_these_codes_clears_them(auth, client):
    codes = shown_codes(enrol(auth))
    assert shown_codes(client.get("/profile/recovery-codes")) == codes  # still there until saved
    response = auth.post("/profile/recovery-codes")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    again = client.get("/profile/recovery-codes")
    assert again.status_code == 302
    assert again.headers["Location"] == "/profile"
    download = client.get("/profile/recovery-codes.txt")
    assert download.status_code == 302
    assert download.headers["Location"] == "/profile"
    profile = page_text(client.get("/profile"))
    assert "already saved" in profile
    assert not any(code in profile for code in codes)


def test_saving_needs_the_csrf_token(auth, client):
    codes = shown_codes(enrol(auth))
    assert client.post("/profile/recovery-codes", data={}).status_code == 400
    assert shown_codes(client.get("/profile/recovery-codes")) == codes


def test_only_hashes_are_stored(app, auth):
    codes = enrol_and_save(auth)
    with app.app_context():
        rows = db.session.scalars(sa.select(RecoveryCode)).all()
        assert len(rows) == 10
        assert len({row.code_hash for row in rows}) == 10
        # Nowhere in the database (code rows, events, server-side sessions) is a code left.
        dump = []
        with db.engine.connect() as connection:
            for table in db.metadata.sorted_tables:
                dump.extend(repr(tuple(row)) for row in connection.execute(table.select()))
    everything = "\n".join(dump)
    for code in codes:
        assert code not in everything
        assert code.replace("-", "") not in everything


# -- The hash cost -----------------------------------------------------------------------------

def scrypt_hashes(codes, salt, n):
    """What scrypt with cost `n` makes of the codes, as recovery codes are stored."""
    return {
        hashlib.scrypt(recovery.normalize(code).encode(), salt=bytes.fromhex(salt), n=n, r=8, p=1, dklen=32).hex()
        for code in codes
    }


def stored_salt_and_hashes(app):
    with app.app_context():
        rows = db.session.scalars(sa.select(RecoveryCode)).all()
    assert len({row.salt for row in rows}) == 1  # one salt for the set
    return rows[0].salt, {row.code_hash for row in rows}


def test_the_shipped_configs_keep_recovery_codes_expensive_to_guess():
    assert Config.RECOVERY_CODE_SCRYPT_N >= 2**14
    assert ProductionConfig.RECOVERY_CODE_SCRYPT_N >= 2**14


def test_codes_are_hashed_with_scrypt_at_the_shipped_cost(shipped_cost_app, fake):
    cost = shipped_cost_app.config["RECOVERY_CODE_SCRYPT_N"]
    assert cost >= 2**14
    codes = shown_codes(enrol(AuthActions(shipped_cost_app.test_client(), fake)))
    salt, stored = stored_salt_and_hashes(shipped_cost_app)
    assert stored == scrypt_hashes(codes, salt, cost)
    with shipped_cost_app.app_context():  # checking a code hashes it the same way
        assert recovery.use(User.by_username("alice"), codes[0]) == 9


def test_the_hash_cost_is_the_setting(app, auth):
    """The suite's cheap cost is a setting the code reads, not a patch: the same codes hashed at
    another cost would not match."""
    cost = app.config["RECOVERY_CODE_SCRYPT_N"]
    assert cost < 2**14  # TestingConfig's
    codes = shown_codes(enrol(auth))
    salt, stored = stored_salt_and_hashes(app)
    assert stored == scrypt_hashes(codes, salt, cost)
    assert not stored & scrypt_hashes(codes, salt, cost * 2)


# -- Using a code -------------------------------------------------------------------------------

def test_verify_page_links_to_the_recovery_step(auth, client):
    enrol_and_save(auth)
    password_step(auth)
    text = page_text(client.get("/auth/verify"))
    assert 'href="/auth/recovery"' in text and "Use a recovery code" in text
    form = client.get("/auth/recovery")
    assert form.status_code == 200
    assert "Recovery code" in page_text(form)


def test_each_code_works_once(app, auth, client, fake):
    codes = enrol_and_save(auth)
    password_step(auth)
    sends, checks = len(fake.sends), len(fake.checks)
    response = use_code(auth, codes[0])
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    page = page_text(client.get("/profile"))
    assert "You are logged in with a recovery code. You have 9 left." in page
    assert "You have 9 recovery codes left." in page
    assert (len(fake.sends), len(fake.checks)) == (sends, checks)  # no text message was involved
    auth.logout()

    password_step(auth)
    again = use_code(auth, codes[0])
    assert again.status_code == 401
    assert NOT_VALID in page_text(again)
    assert not logged_in(client)
    assert remaining(app) == 9
    # Another, unused code still works on the same pending login.
    assert use_code(auth, codes[1]).status_code == 302
    assert logged_in(client)
    assert remaining(app) == 8


def test_codes_are_accepted_in_upper_case_with_spaces_or_without_the_dash(app, auth, client):
    codes = enrol_and_save(auth)
    variants = [
        codes[0].upper(),
        "  " + codes[1].replace("-", " ") + " ",
        codes[2].replace("-", ""),
    ]
    for typed in variants:
        password_step(auth)
        response = use_code(auth, typed)
        assert response.status_code == 302, (typed, page_text(response))
        assert logged_in(client)
        auth.logout()
    assert remaining(app) == 7
    # Each variant used up the code it spells: the plain forms are now refused.
    password_step(auth)
    assert use_code(auth, codes[2]).status_code == 401


def test_empty_code_is_a_form_error(auth, client):
    enrol_and_save(auth)
    password_step(auth)
    response = use_code(auth, "")
    assert response.status_code == 400
    assert "Enter one of your recovery codes." in page_text(response)
    assert not logged_in(client)


def test_recovery_step_needs_a_pending_login(auth, client):
    enrol_and_save(auth)
    response = client.get("/auth/recovery")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?notice=login-expired"
    assert "Your login expired or was not started." in page_text(client.get(response.headers["Location"]))


def test_another_users_code_does_not_work(app, auth, client):
    alice_codes = enrol_and_save(auth, "alice")
    enrol_and_save(auth, "bob", BOB_NATIONAL, BOB_PHONE)
    password_step(auth, "bob")
    response = use_code(auth, alice_codes[0])
    assert response.status_code == 401
    assert not logged_in(client)
    assert remaining(app, "alice") == 10


def test_profile_shows_how_many_are_left_and_warns_at_three(app, auth, client):
    codes = enrol_and_save(auth)
    password_step(auth)
    assert use_code(auth, codes[0]).status_code == 302
    page = page_text(client.get("/profile"))
    assert "You have 9 recovery codes left." in page
    assert "Create new ones so you can still log in" not in page
    auth.logout()

    spend(app, codes[1:5])  # four more used on other days: five left
    password_step(auth)
    assert use_code(auth, codes[5]).status_code == 302
    page = page_text(client.get("/profile"))
    assert "You have 4 recovery codes left." in page
    assert "Create new ones so you can still log in" not in page
    assert '<div class="alert alert-success" role="alert">You are logged in with a recovery code. You have 4 left.' in page
    auth.logout()

    password_step(auth)
    assert use_code(auth, codes[6]).status_code == 302
    assert remaining(app) == 3
    page = page_text(client.get("/profile"))
    assert "You have 3 recovery codes left. Create new ones so you can still log in without your phone." in page


def test_login_message_warns_when_few_are_left(app, auth, client):
    codes = enrol_and_save(auth)
    spend(app, codes[:8])
    password_step(auth)
    assert use_code(auth, codes[8]).status_code == 302
    page = page_text(client.get("/profile"))
    assert '<div class="alert alert-warning" role="alert">You are logged in with a recovery code. You have 1 left.' in page
    assert "You have 1 recovery code left." in page


def test_every_use_and_every_wrong_code_is_a_security_event(app, auth, client):
    codes = enrol_and_save(auth)
    password_step(auth)
    assert use_code(auth, "abcd-efgh").status_code == 401
    assert use_code(auth, codes[3]).status_code == 302
    events = event_kinds(app)
    kinds = [kind for kind, _ in events]
    assert "recovery_code_failed" in kinds
    assert ("recovery_code_used", "9 left") in events
    assert ("login_succeeded", "with a recovery code") in events
    assert kinds.index("recovery_code_failed") < kinds.index("recovery_code_used")
    assert not any(codes[3] in detail or "abcd" in detail for _, detail in events)
    page = page_text(client.get("/profile"))
    # A recovery code also confirms it's you (issue 12): the label says only what happened.
    assert "Recovery code used <span class=\"text-body-secondary\">(9 left)</span>" in page
    assert "Wrong recovery code entered" in page


# -- Wrong codes are limited like wrong text-message codes ---------------------------------------

def test_wrong_codes_count_toward_the_pending_login_limit(app, auth, client, fake):
    codes = enrol_and_save(auth)
    attempts = app.config["CODE_ATTEMPTS_PER_LOGIN"]
    password_step(auth)
    # Text-message codes and recovery codes share one budget per pending login.
    assert auth.verify("000000").status_code == 401
    for _ in range(attempts - 2):
        response = use_code(auth, "zzzz-zzzz")
        assert response.status_code == 401
        assert NOT_VALID in page_text(response)
    last = use_code(auth, "2222-2222")
    assert last.status_code == 302
    assert last.headers["Location"] == "/auth/login?notice=too-many-codes"
    assert "Too many incorrect codes. Please log in again." in page_text(client.get(last.headers["Location"]))
    # The pending login is gone: even a right code does not log in now, and is not spent.
    late = auth.post("/auth/recovery", {"code": codes[0]}, form_url="/auth/login")
    assert late.status_code == 302
    assert late.headers["Location"] == "/auth/login?notice=login-expired"
    assert not logged_in(client)
    assert remaining(app) == 10


def test_wrong_codes_count_toward_the_account_lock(app, auth, client):
    codes = enrol_and_save(auth)
    app.config["CODE_FAILURES_BEFORE_LOCK"] = 3
    password_step(auth)
    assert use_code(auth, "zzzz-zzzz").status_code == 401
    assert auth.verify("000000").status_code == 401  # a wrong text code counts toward the same lock
    locked = use_code(auth, "yyyy-yyyy")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "entering codes on this account is locked for 15 minutes" in page_text(locked)
    with app.app_context():
        assert User.by_username("alice").code_locked_until is not None
    assert "code_step_locked" in [kind for kind, _ in event_kinds(app)]

    # A new login (the password is right) still cannot use a valid recovery code while locked.
    password_step(auth)
    response = auth.post("/auth/recovery", {"code": codes[0]}, form_url="/auth/login")  # the locked page has no form
    assert response.status_code == 429
    assert not logged_in(client)
    assert remaining(app) == 10


# -- Regenerating -------------------------------------------------------------------------------

def test_regenerating_needs_sudo_and_voids_the_old_set(app, auth, client, fake):
    old = enrol_and_save(auth)
    auth.login_with_code()
    response = assert_sudo_needed(auth, "/profile/recovery-codes/regenerate")  # ten minutes later
    assert remaining(app) == 10
    with app.app_context():
        hashes_before = set(db.session.scalars(sa.select(RecoveryCode.code_hash)))

    done = auth.reauthenticate(url=response.headers["Location"])
    assert done.status_code == 302
    assert done.headers["Location"] == "/profile/recovery-codes/regenerate"
    form = client.get("/profile/recovery-codes/regenerate")
    assert form.status_code == 200
    assert "Your current recovery codes will stop working" in page_text(form)
    response = auth.post("/profile/recovery-codes/regenerate")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile/recovery-codes"
    new = shown_codes(client.get("/profile/recovery-codes"))
    assert len(new) == 10 and not set(new) & set(old)
    assert auth.post("/profile/recovery-codes").status_code == 302
    with app.app_context():
        hashes_after = set(db.session.scalars(sa.select(RecoveryCode.code_hash)))
    assert len(hashes_after) == 10 and not hashes_after & hashes_before
    assert "recovery_codes_generated" in [kind for kind, _ in event_kinds(app)][-3:]
    auth.logout()

    password_step(auth)
    assert use_code(auth, old[0]).status_code == 401
    assert use_code(auth, new[0]).status_code == 302
    assert logged_in(client)


def test_regenerating_is_only_for_2fa_users(auth, client):
    auth.register("carol")
    assert auth.reauthenticate().status_code == 302
    response = client.get("/profile/recovery-codes/regenerate")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"


# -- Two simultaneous uses of one code against a live server ------------------------------------

@pytest.fixture
def live_app(fake, tmp_path, app_overrides):
    uri = postgres_url() or f"sqlite:///{tmp_path / 'live.db'}"
    app = build_app(make_config(fake, SQLALCHEMY_DATABASE_URI=uri, **app_overrides))
    yield app
    dispose_app(app)


@pytest.fixture
def live_url(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def csrf_from(session, url):
    match = CSRF_INPUT.search(session.get(url, timeout=10).text)
    assert match, f"no CSRF token at {url}"
    return match.group(1)


def live_password_step(session, base):
    token = csrf_from(session, base + "/auth/login")
    data = {"csrf_token": token, "username": "alice", "password": PASSWORD, "next": ""}
    response = session.post(base + "/auth/login", data=data, allow_redirects=False, timeout=10)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify"
    return csrf_from(session, base + "/auth/recovery")


def post_together(requests_to_send):
    """Sends the (session, url, data) POSTs at the same moment, one thread each; returns the responses."""
    barrier = threading.Barrier(len(requests_to_send))
    results, errors = [None] * len(requests_to_send), []

    def send(i, session, url, data):
        try:
            barrier.wait(timeout=10)
            results[i] = session.post(url, data=data, allow_redirects=False, timeout=20)
        except (requests.RequestException, threading.BrokenBarrierError) as error:
            errors.append(error)

    threads = [threading.Thread(target=send, args=(i, *item)) for i, item in enumerate(requests_to_send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert all(result is not None for result in results)
    return results


def test_two_simultaneous_uses_of_one_code_give_one_login(live_app, live_url, fake):
    codes = enrol_and_save(AuthActions(live_app.test_client(), fake))
    for code in codes[:3]:
        browsers = [requests.Session(), requests.Session()]
        try:
            tokens = [live_password_step(browser, live_url) for browser in browsers]
            url = live_url + "/auth/recovery"
            results = post_together([(browser, url, {"csrf_token": token, "code": code}) for browser, token in zip(browsers, tokens)])
            statuses = sorted(result.status_code for result in results)
            assert statuses == [302, 401], [(r.status_code, r.text[-300:]) for r in results]
            winner = next(r for r in results if r.status_code == 302)
            assert winner.headers["Location"] == "/profile"
            profiles = [browser.get(live_url + "/profile", allow_redirects=False, timeout=10).status_code for browser in browsers]
            assert sorted(profiles) == [200, 302]
        finally:
            for browser in browsers:
                browser.close()
    with live_app.app_context():
        user = User.by_username("alice")
        used = db.session.scalar(
            sa.select(sa.func.count()).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_not(None))
        )
        uses = db.session.scalar(
            sa.select(sa.func.count()).where(SecurityEvent.user_id == user.id, SecurityEvent.kind == "recovery_code_used")
        )
    assert used == 3
    assert uses == 3
