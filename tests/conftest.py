"""Fixtures: an app wired to a fake Twilio Verify server, a client, and person-like actions."""
import functools
import json
import os
import re
from pathlib import Path

os.environ["APP_ENV"] = "testing"  # before config is imported: a developer's .env stays out

import pytest
import sqlalchemy as sa

# Under pytest-xdist (`make test` runs the suite in parallel) each worker process is named gw0,
# gw1, ...; outside it this is None and nothing below changes how the suite runs.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def own_postgres_database():
    """Gives this xdist worker a PostgreSQL database of its own, next to TEST_DATABASE_URL's (its
    role needs CREATEDB): every test drops and creates all tables, so two workers, or two runs on
    one server, must never share one. Runs before `config` is imported, as TestingConfig reads
    TEST_DATABASE_URL then."""
    import psycopg

    base = sa.make_url(os.environ["TEST_DATABASE_URL"])
    name = f"{base.database}_{XDIST_WORKER}_{os.environ['PYTEST_XDIST_TESTRUNUID'][:8]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["TEST_DATABASE_URL"] = base.set(database=name).render_as_string(hide_password=False)
    return admin, name


WORKER_DATABASE = (own_postgres_database()
                   if XDIST_WORKER and os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql") else None)

from app import create_app
from app.extensions import db, limiter
from app.passwords import SETTINGS as PASSWORD_COST_SETTINGS
from config import Config, ProductionConfig, TestingConfig
from tests.fake_verify import FakeVerifyServer

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

PASSWORD = "correct horse battery"
PHONE = "+447400123456"  # a valid GB mobile
PHONE_NATIONAL = "07400 123456"
ROOT = Path(__file__).resolve().parent.parent  # the checkout, where pytest.ini is
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def twilio_settings(fake):
    """The settings that point the real Twilio client at the fake server."""
    return {
        "VERIFY_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_VERIFY_SERVICE_ID": fake.service_sid,
        "TWILIO_API_BASE_URL": fake.base_url,
        "TWILIO_TIMEOUT": 2.0,
    }


def make_config(fake, **overrides):
    return type("TestConfig", (TestingConfig,), {**twilio_settings(fake), **overrides})


def build_app(config):
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    if limiter.enabled:
        limiter.reset()
    return app


def dispose_app(app):
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    client = app.extensions.get("twilio_client")
    if client is not None:
        client.http_client.session.close()


@pytest.fixture(scope="session")
def fake_server():
    with FakeVerifyServer() as server:
        yield server


@pytest.fixture
def fake(fake_server):
    fake_server.reset()
    yield fake_server
    fake_server.reset()


@pytest.fixture
def app_overrides(request):
    """Settings for the test's app: from `@pytest.mark.app_settings(NAME=value)` on the module
    (`pytestmark`), class or test, the nearest winning, then from an indirect parametrization.
    A test module may also override this fixture."""
    settings = {}
    for marker in reversed(list(request.node.iter_markers("app_settings"))):
        settings.update(marker.kwargs)
    settings.update(getattr(request, "param", {}))
    return settings


@pytest.fixture
def app(fake, app_overrides):
    app = build_app(make_config(fake, **app_overrides))
    yield app
    dispose_app(app)


@pytest.fixture(params=[Config, ProductionConfig], ids=lambda config: config.__name__)
def shipped_cost_app(request, fake):
    """An app that hashes passwords and recovery codes at the cost a shipped config sets
    (TestingConfig's is cheap, so the rest of the suite stays quick)."""
    shipped = request.param
    app = build_app(make_config(
        fake,
        **{name: getattr(shipped, name) for name in PASSWORD_COST_SETTINGS},
        RECOVERY_CODE_SCRYPT_N=shipped.RECOVERY_CODE_SCRYPT_N,
    ))
    yield app
    dispose_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(client, url="/auth/login"):
    """The token a browser would find in the form on `url`."""
    page = client.get(url).get_data(as_text=True)
    match = CSRF_INPUT.search(page)
    assert match, f"no CSRF token in the form at {url}"
    return match.group(1)


def page_text(response):
    return response.get_data(as_text=True)


class AuthActions:
    """What a person does in the browser, through the real forms (CSRF on)."""

    def __init__(self, client, fake):
        self.client = client
        self.fake = fake

    def post(self, url, data=None, form_url=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", csrf_token(self.client, form_url or url))
        return self.client.post(url, data=data, **kwargs)

    def register(self, username="alice", password=PASSWORD, password2=None):
        return self.post("/auth/register", {
            "username": username, "password": password, "password2": password2 or password,
        })

    def login(self, username="alice", password=PASSWORD, remember=False, next=""):
        data = {"username": username, "password": password, "next": next}
        if remember:
            data["remember_me"] = "y"
        return self.post("/auth/login", data)

    def logout(self):
        return self.post("/auth/logout", form_url="/profile")

    def verify(self, code=None, phone=PHONE):
        code = code if code is not None else self.fake.last_code(phone)
        return self.post("/auth/verify", {"code": code})

    def start_enrolment(self, phone=PHONE_NATIONAL, country="GB"):
        """Enable 2FA's first step, confirming it's you first when the page asks (as it does
        after a login: a fresh login is not enough to add a factor)."""
        response = self.client.get("/profile/2fa/enable")
        if response.status_code == 302 and response.headers["Location"].startswith("/auth/reauthenticate"):
            self.confirm_its_you_to("/profile/2fa/enable")
        return self.post("/profile/2fa/enable", {"country": country, "phone": phone})

    def confirm(self, code=None, phone=PHONE):
        code = code if code is not None else self.fake.last_code(phone)
        return self.post("/profile/2fa/confirm", {"code": code})

    def login_with_code(self, username="alice", phone=PHONE, password=PASSWORD, remember=False,
                        remember_device=False):
        """A full login of a 2FA user: the password, then the code (ticking "remember this browser"
        when asked)."""
        response = self.login(username, password=password, remember=remember)
        assert response.status_code == 302
        assert response.headers["Location"] == "/auth/verify"
        data = {"code": self.fake.last_code(phone)}
        if remember_device:
            data["remember_device"] = "y"
        response = self.post("/auth/verify", data)
        assert response.status_code == 302, page_text(response)
        return response

    def reauthenticate(self, password=PASSWORD, phone=PHONE, url="/auth/reauthenticate"):
        """Sudo mode: the password, then (with 2FA) the code. `url` is the re-authentication page,
        e.g. the one a sudo-protected page redirected to (with its ?next=)."""
        response = self.post(url, {"password": password})
        assert response.status_code == 302, page_text(response)
        location = response.headers["Location"]
        if location.startswith("/auth/reauthenticate/code"):
            response = self.post(location, {"code": self.fake.last_code(phone)})
            assert response.status_code == 302, page_text(response)
        return response

    def confirm_its_you_to(self, path, phone=PHONE):
        """Confirm it's you on the way to `path` (a page that asks for it), without opening it."""
        return self.reauthenticate(phone=phone, url=f"/auth/reauthenticate?next={path}")

    def open_sudo_page(self, url, phone=PHONE):
        """GET a sudo-protected page, re-authenticating first when asked to."""
        response = self.client.get(url)
        if response.status_code == 302 and response.headers["Location"].startswith("/auth/reauthenticate"):
            assert self.reauthenticate(phone=phone, url=response.headers["Location"]).headers["Location"] == url
            response = self.client.get(url)
        assert response.status_code == 200, response.headers.get("Location")
        return response

    def signup_with_2fa(self, username="alice", phone=PHONE_NATIONAL, country="GB"):
        """A user with 2FA on, logged out afterwards."""
        self.register(username)
        self.start_enrolment(phone, country)
        response = self.confirm()
        assert response.status_code == 302, response.get_data(as_text=True)
        self.logout()


@pytest.fixture
def auth(client, fake):
    return AuthActions(client, fake)


@pytest.fixture
def statements(app):
    """SQL statements the app runs, as they happen."""
    seen = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


# -- Outside services: PostgreSQL, Redis, Chromium ----------------------------------------------
# A test marked `postgres`, `redis` or `browser` needs that service. Without it the test is skipped
# with a reason that says how to get it; with CI=true a missing service fails the test instead.

CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_url():
    """TEST_DATABASE_URL when it names PostgreSQL (the suite then runs on it), else None."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


def redis_url():
    return os.environ.get("REDIS_URL") or None


SERVICES = {
    "postgres": (postgres_url, "needs PostgreSQL: set TEST_DATABASE_URL=postgresql+psycopg://user:pass@host/db"),
    "redis": (redis_url, "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0"),
    "browser": (lambda: os.path.exists(CHROMIUM), f"needs Chromium at {CHROMIUM}: apt-get install chromium fonts-liberation"),
}


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres: needs a PostgreSQL server (TEST_DATABASE_URL)")
    config.addinivalue_line("markers", "redis: needs a Redis server (REDIS_URL)")
    config.addinivalue_line("markers", "app_settings(**settings): settings for the test's app (see app_overrides)")


def pytest_report_header(config):
    outcome = "fail (CI=true)" if IN_CI else "are skipped"
    return "outside services: " + "; ".join(
        f"{name}: available" if available() else f"{name}: missing, tests marked {name} {outcome}"
        for name, (available, _) in SERVICES.items()
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    for name, (available, reason) in SERVICES.items():
        if item.get_closest_marker(name) and not available():
            if IN_CI:
                pytest.fail(f"CI=true and this test {reason}", pytrace=False)
            pytest.skip(reason)


@pytest.fixture(scope="session")
def fresh_postgres_database():
    """A factory of new, empty PostgreSQL databases on TEST_DATABASE_URL's server (its role needs
    CREATEDB), all dropped when the test session ends."""
    import secrets

    import psycopg
    import sqlalchemy as sa

    base = sa.make_url(postgres_url())
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    created = []

    def make():
        name = f"{base.database}_{secrets.token_hex(4)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return base.set(database=name).render_as_string(hide_password=False)

    yield make
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- What the attacks in tests/abuse achieved -----------------------------------------------------
# Their `figure` fixture notes each figure in the test's report: reports reach this process from
# pytest-xdist's workers too, so the whole run's figures are shown (and kept) here, once.

ABUSE_FIGURE = "abuse figure"
ABUSE_FIGURES = {}


def pytest_runtest_logreport(report):
    for name, value in report.user_properties:
        if name == ABUSE_FIGURE:
            what, figure = value
            ABUSE_FIGURES[what] = figure


def pytest_terminal_summary(terminalreporter):
    if not ABUSE_FIGURES or XDIST_WORKER:
        return
    terminalreporter.section("what the attacks in tests/abuse achieved")
    for what, value in sorted(ABUSE_FIGURES.items()):
        terminalreporter.write_line(f"{what}: {value}")
    folder = ROOT / "test-artifacts" / "abuse"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "figures.json").write_text(json.dumps(ABUSE_FIGURES, indent=2, sort_keys=True))


# -- Running in parallel ------------------------------------------------------------------------
# `make test` runs the suite on pytest-xdist workers with `--dist loadfile`, which the scheduler
# below extends: a worker takes whole modules (module-scoped live servers start once), and whole
# groups of modules that share something outside the worker process:
# - tests/abuse, whose live servers are shared across the package and take Redis databases 1-12
#   from a pool each process keeps;
# - every other module that names Redis: they use REDIS_URL's database (whose rate limits
#   `build_app` resets, and whose session indexes are per user id, the same ids in every worker's
#   database) or database 13, which each empties when it starts.
# The two groups use different Redis databases, so they may run side by side. The scheduler sees
# node ids only (no marks), hence a module's own text decides whether it uses Redis.

@functools.cache
def names_redis(path):
    try:
        return "redis" in (ROOT / path).read_text().lower()
    except OSError:
        return False


def xdist_scope(nodeid):
    """What a test is scheduled with: its module, or its group of modules."""
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/abuse/"):
        return "tests/abuse/"
    return "modules that use Redis" if names_redis(path) else path


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModuleOrGroupScheduling(LoadFileScheduling):
        def __init__(self, config, log):
            super().__init__(config, log)
            # In collection order, not by number of tests: tests/abuse and tests/browser, the
            # slowest modules (a few long tests each), start first instead of holding up the end.
            config.option.loadscopereorder = False

        def _split_scope(self, nodeid):
            return xdist_scope(nodeid)

    return ModuleOrGroupScheduling(config, log)


def pytest_unconfigure(config):
    if WORKER_DATABASE:
        import psycopg

        admin, name = WORKER_DATABASE
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
