"""Property-based fuzzing: every form field and query parameter of every route, in every state.

Each example is one request to one route of `app.url_map` with arbitrary text (NULs, control
characters, right-to-left marks, very long strings, any unicode but lone surrogates, which
werkzeug cannot encode) in its query string and form, with a valid, missing or forged CSRF
token, sent by a person who is logged out, logged in, logged in with 2FA on, logged in with 2FA
on and just re-authenticated (so the pages that change a factor or the password are open), or
half-way through a login (password accepted, code not yet given). Whatever arrives, the answer
is below 500 and nothing is logged at ERROR.

Before every example the database (sessions included), the rate-limit counters and the fake
Verify server are put back as they were, so each example starts from the state it names however
the previous one ended (logged out, 2FA turned off, account deleted...).
"""
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db, limiter
from tests.conftest import PASSWORD, PHONE, AuthActions, build_app, csrf_token, dispose_app, make_config

ROOT = Path(__file__).resolve().parent.parent
STATES = ("logged_out", "logged_in", "two_factor", "sudo", "pending_login")
# Examples per state: the default keeps the file under a minute; FUZZ_EXAMPLES=2000 digs deeper.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 150))
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")

# Limits far above anything one request can reach; the counters are also reset per example.
NO_LIMITS = {
    "LOGIN_LIMIT_PER_IP": "100000/minute",
    "LOGIN_LIMIT_PER_USERNAME": "100000/minute",
    "CODE_CHECK_LIMIT_PER_IP": "100000/minute",
    "SEND_COOLDOWN_SECONDS": 1,
    "SEND_LIMIT_PER_NUMBER": "100000/minute",
    "SEND_LIMIT_PER_ACCOUNT": "100000/minute",
    "SEND_LIMIT_PER_IP": "100000/minute",
    "SMS_DAILY_LIMIT": 10**9,
    "CODE_FAILURES_BEFORE_LOCK": 10**6,
}


# -- what a request can carry ---------------------------------------------------------------
def any_text(max_size=40):
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)


SPECIAL_VALUES = [
    "", " ", "\x00", "a\x00b", "\t\r\n", "\u202e", "\ufeff", "ℌ", "İ", "ß", "😀", "%00", "%",
    "0", "-1", "y", "on", "true", "123456", "000000", "12 34 56", "1234567", "abcd-efgh",
    PHONE, "07400 123456", "+44 909 879 0000", "+1 415 555 2671", "GB", "US", "ZZ", "gb",
    "/profile", "//evil.example", "/\\evil.example", "https:evil.example", "javascript:alert(1)",
    "alice", "ALICE", "bob", PASSWORD, "' OR 1=1 --", "<script>alert(1)</script>", "{{7*7}}",
]

values = st.one_of(
    any_text(),
    st.sampled_from(SPECIAL_VALUES),
    # Very long: past every Length validator and column size (kept to about 12 kB so that the
    # percent-encoding of a hundred such values stays within the time budget).
    st.builds(lambda chunk, n: chunk * n, any_text(max_size=3).filter(bool), st.integers(100, 4_000)),
)


def field_names(app):
    """Every field of every form in the app, found by walking FlaskForm's subclasses."""
    names, stack = {"next", "csrf_token"}, list(FlaskForm.__subclasses__())
    with app.test_request_context():
        while stack:
            form_class = stack.pop()
            stack.extend(form_class.__subclasses__())
            if not form_class.__module__.startswith("app."):
                continue
            try:
                form = form_class(meta={"csrf": False}, formdata=None)
            except Exception:  # a form needing arguments: read its declared fields instead
                names.update(name for name in dir(form_class) if not name.startswith("_"))
                continue
            names.update(form._fields)
    return sorted(names)


def routes(app):
    """(rule, method) for every route and method the app serves."""
    return [(rule, method) for rule in app.url_map.iter_rules()
            for method in sorted(rule.methods - SKIPPED_METHODS)]


def path_values(rule):
    """A strategy for the values of the rule's own URL arguments (not its defaults)."""
    strategies = {}
    for converter, name in ARGUMENT.findall(rule.rule):
        if converter == "int":
            strategies[name] = st.one_of(st.integers(0, 2**31), st.just(1))
        elif converter == "path":
            strategies[name] = st.one_of(st.sampled_from(["app.css", "css/bootstrap.min.css", "../config.py"]),
                                         any_text(20).filter(bool))
        else:
            strategies[name] = any_text(20).filter(bool)
    return st.fixed_dictionaries(strategies)


def requests_for(app, only=None, methods=None):
    names = field_names(app)
    keys = st.one_of(st.sampled_from(names), any_text(10))
    per_route = []
    for rule, method in routes(app):
        if (only and rule.endpoint not in only) or (methods and method not in methods):
            continue
        per_route.append(st.fixed_dictionaries({
            "rule": st.just(rule),
            "method": st.just(method),
            "path_values": path_values(rule),
            "query": st.dictionaries(keys, values, max_size=4),
            "form": st.dictionaries(keys, values, max_size=6) if method == "POST" else st.just({}),
            "csrf": st.sampled_from(["valid", "missing", "forged"]) if method == "POST" else st.just("missing"),
        }))
    return st.one_of(per_route)


# -- the states -----------------------------------------------------------------------------
class Fuzzer:
    """An app with two users and one browser per state, and a way back to that moment."""

    def __init__(self, fake, **overrides):
        self.fake = fake
        self.app = build_app(make_config(fake, **{**NO_LIMITS, **overrides}))
        self.cookie_name = self.app.config["SESSION_COOKIE_NAME"]
        self.states = {}
        self._set_up_users()
        for state in STATES:
            self.states[state] = self._browser_in(state)
        self.snapshot = self._dump()

    def _set_up_users(self):
        client = self.app.test_client()
        auth = AuthActions(client, self.fake)
        auth.signup_with_2fa("alice")  # 2FA on, number PHONE
        assert auth.register("bob").status_code == 302  # 2FA off
        auth.logout()

    def _browser_in(self, state):
        client = self.app.test_client()
        auth = AuthActions(client, self.fake)
        if state == "logged_out":
            token = csrf_token(client, "/auth/login")
        elif state == "logged_in":
            assert auth.login("bob").headers["Location"] == "/profile"
            token = csrf_token(client, "/profile")
        elif state in ("two_factor", "sudo"):
            assert auth.login("alice").headers["Location"] == "/auth/verify"
            assert auth.verify().status_code == 302
            if state == "sudo":  # just re-authenticated: the pages that change a factor are open
                assert auth.reauthenticate().headers["Location"] == "/profile"
                assert client.get("/profile/2fa/disable").status_code == 200
            token = csrf_token(client, "/profile")
        else:
            assert auth.login("alice").headers["Location"] == "/auth/verify"
            token = csrf_token(client, "/auth/verify")
        if state != "logged_out":
            expected = 200 if state != "pending_login" else 302
            assert client.get("/profile").status_code == expected, state
        return {"cookie": client.get_cookie(self.cookie_name).value, "csrf": token}

    def _tables(self):
        return db.metadata.sorted_tables

    def _dump(self):
        with self.app.app_context():
            return {table.name: [dict(row._mapping) for row in db.session.execute(sa.select(table))]
                    for table in self._tables()}

    def restore(self):
        with self.app.app_context():
            db.session.remove()
            for table in reversed(self._tables()):
                db.session.execute(table.delete())
            for table in self._tables():
                if self.snapshot[table.name]:
                    db.session.execute(table.insert(), self.snapshot[table.name])
            db.session.commit()
            db.session.remove()

    def client_in(self, state):
        client = self.app.test_client()
        client.set_cookie(self.cookie_name, self.states[state]["cookie"])
        return client

    def send(self, state, request):
        rule, method = request["rule"], request["method"]
        with self.app.test_request_context():
            path = self.app.url_map.bind("localhost").build(
                rule.endpoint, request["path_values"], method=method, append_unknown=False)
        form = dict(request["form"])
        form.pop("csrf_token", None)
        if request["csrf"] == "valid":
            form["csrf_token"] = self.states[state]["csrf"]
        elif request["csrf"] == "forged":
            form["csrf_token"] = "forged." + self.states[state]["csrf"][::-1]
        client = self.client_in(state)
        if method == "GET":
            return client.get(path, query_string=request["query"])
        return client.open(path, method=method, query_string=request["query"], data=form)

    def close(self):
        dispose_app(self.app)


@pytest.fixture(scope="module")
def cheap_hashing():
    """Password and recovery-code hashing at a token cost: the fuzzer is about input handling,
    and at full cost (0.1 s a hash) a login attempt would eat most of the time budget."""
    real = hashlib.scrypt

    def scrypt(password, *, salt, n, r, p, maxmem=0, dklen=64):
        return real(password, salt=salt, n=2, r=1, p=1, dklen=dklen)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hashlib, "scrypt", scrypt)
        yield


@pytest.fixture(scope="module")
def fuzzer(fake_server, cheap_hashing):
    fake_server.reset()
    fuzzer = Fuzzer(fake_server)
    yield fuzzer
    fuzzer.close()
    fake_server.reset()
    limiter.reset()


def problems(caplog):
    return [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


def describe(response, caplog):
    return f"{response.status_code}: {caplog.text[-3000:]}"


@pytest.mark.parametrize("state", STATES)
def test_no_input_breaks_a_route(state, fuzzer, caplog):
    """Limits reset before every example: no 429 hides what a route does with its input."""
    statuses = set()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(request=requests_for(fuzzer.app))
    def one_request(request):
        fuzzer.restore()
        limiter.reset()
        fuzzer.fake.reset()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            response = fuzzer.send(state, request)
        response.close()  # static files answer with an open file
        statuses.add(response.status_code)
        assert response.status_code < 500, describe(response, caplog)
        assert response.status_code != 429, describe(response, caplog)
        assert not problems(caplog), describe(response, caplog)

    one_request()
    assert statuses & {200, 302}, statuses  # the fuzzer reached real pages, not only errors


# The routes with a Flask-Limiter limit of their own, posted to often enough to reach it.
LIMITED_ENDPOINTS = {"auth.login", "auth.verify", "auth.recovery_login", "auth.resend"}


# Low enough that fifty requests reach them; the app's own defaults otherwise.
LOW_LIMITS = {
    "LOGIN_LIMIT_PER_IP": "5/minute",
    "LOGIN_LIMIT_PER_USERNAME": "3/minute",
    "CODE_CHECK_LIMIT_PER_IP": "5/minute",
}


@pytest.fixture(scope="module")
def limited_fuzzer(fake_server, cheap_hashing):
    """Rate limits on, counters never reset between examples."""
    fake_server.reset()
    defaults = {name: getattr(make_config(fake_server), name) for name in NO_LIMITS}
    fuzzer = Fuzzer(fake_server, **{**defaults, **LOW_LIMITS})
    limiter.reset()
    yield fuzzer
    fuzzer.close()
    fake_server.reset()
    limiter.reset()


@pytest.mark.parametrize("state", ["logged_out", "pending_login"])
def test_no_input_breaks_a_route_with_limits_on(state, limited_fuzzer, caplog):
    statuses = []
    only = {endpoint for endpoint in LIMITED_ENDPOINTS if endpoint in limited_fuzzer.app.view_functions}

    @settings(max_examples=max(50, EXAMPLES // 2), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(request=requests_for(limited_fuzzer.app, only=only, methods={"POST"}))
    def one_request(request):
        limited_fuzzer.restore()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            response = limited_fuzzer.send(state, request)
        response.close()
        statuses.append(response.status_code)
        assert response.status_code < 500, describe(response, caplog)
        assert not problems(caplog), describe(response, caplog)
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) > 0

    one_request()
    assert 429 in statuses, sorted(set(statuses))  # the limits were really reached


# -- RATELIMIT_ENABLED=False ----------------------------------------------------------------
# Checked in a fresh interpreter: Flask-Limiter's extension object is process-wide, so an app
# built with limits off changes every app built after it in the same process.
DISABLED_LIMITS_SCRIPT = textwrap.dedent("""
    import json, os, sys
    os.environ["APP_ENV"] = "testing"
    sys.path.insert(0, os.getcwd())
    from app import create_app
    from app.extensions import db
    from tests.conftest import AuthActions, make_config
    from tests.fake_verify import FakeVerifyServer

    def fresh(config):
        app = create_app(config)
        with app.app_context():
            db.create_all()
        return app

    result = {}
    with FakeVerifyServer() as fake:
        app = fresh(make_config(fake, RATELIMIT_ENABLED=False))
        auth = AuthActions(app.test_client(), fake)
        auth.register()
        result["enrol_status"] = auth.start_enrolment().status_code
        later = fresh(make_config(fake))
        result["later_app_enabled"] = later.config.get("RATELIMIT_ENABLED")
    print(json.dumps(result))
""")


@pytest.fixture(scope="module")
def limits_disabled_run():
    env = {name: value for name, value in os.environ.items() if name != "TEST_DATABASE_URL"}  # own memory db
    done = subprocess.run([sys.executable, "-c", DISABLED_LIMITS_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sending_a_code_works_with_rate_limits_disabled(limits_disabled_run):
    assert limits_disabled_run["enrol_status"] == 302


def test_rate_limits_disabled_for_one_app_stay_on_for_the_next(limits_disabled_run):
    assert limits_disabled_run["later_app_enabled"] is True
