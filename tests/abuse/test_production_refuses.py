"""Issue 9, "production accepts weak settings": a production start refuses, naming the variable,
memory:// limit storage (unless RATELIMIT_ALLOW_MEMORY=1), a missing TRUSTED_HOSTS, forwarded
headers believed from any peer, a TWILIO_API_BASE_URL over http or not explicitly allowed, and a
SECRET_KEY of low entropy. Over HTTP, a foreign Host header is refused, never redirected to."""
import subprocess
import sys
import time

import pytest
import requests

from tests.abuse.conftest import app_environment
from tests.conftest import redis_url
from tests.support import ROOT, Instance

pytestmark = pytest.mark.live

UNUSED_HTTPS_BASE = "https://127.0.0.1:9"  # never called: these processes only start


@pytest.fixture
def safe_environment(fake_server, tmp_path):
    """Production settings the app accepts; each test changes one thing."""
    limits = redis_url() or "memory://"
    return app_environment(fake_server, f"sqlite:///{tmp_path / 'app.db'}", limits,
                           TWILIO_API_BASE_URL=UNUSED_HTTPS_BASE)


def start_app(env):
    """What every production process does first: build the app."""
    return subprocess.run([sys.executable, "-c", "from main import app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_safe_settings_start(safe_environment):
    result = start_app(safe_environment)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("changes, names", [
    ({"RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_ALLOW_MEMORY": ""}, ["RATELIMIT_STORAGE_URI"]),
    ({"TRUSTED_HOSTS": ""}, ["TRUSTED_HOSTS"]),
    ({"TWILIO_API_BASE_URL": "http://127.0.0.1:9"}, ["TWILIO_API_BASE_URL"]),
    ({"ALLOW_TWILIO_BASE_URL": ""}, ["TWILIO_API_BASE_URL", "ALLOW_TWILIO_BASE_URL"]),
    ({"SECRET_KEY": "a" * 64}, ["SECRET_KEY"]),
    ({"SECRET_KEY": "password" * 8}, ["SECRET_KEY"]),
    ({"WEBAUTHN_RP_ID": ""}, ["WEBAUTHN_RP_ID"]),
    ({"WEBAUTHN_ORIGINS": "http://localhost"}, ["WEBAUTHN_ORIGINS"]),
], ids=["memory-limits", "no-trusted-hosts", "http-twilio-base", "twilio-base-not-allowed",
        "secret-one-character", "secret-repeated-word", "no-webauthn-rp-id", "http-webauthn-origin"])
def test_unsafe_setting_is_refused_by_name(safe_environment, changes, names):
    result = start_app(dict(safe_environment, **changes))
    assert result.returncode != 0, f"started with {changes}; stderr: {result.stderr[-500:]}"
    assert any(name in result.stderr for name in names), result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]


def test_gunicorn_refuses_forwarded_headers_from_any_peer(safe_environment, tmp_path):
    env = dict(safe_environment, TRUSTED_PROXIES="1", FORWARDED_ALLOW_IPS="")
    server = Instance("any-peer", env, tmp_path, workers=1, args=["--no-control-socket"])
    server.start()
    try:
        deadline = time.monotonic() + 30
        served = None
        while time.monotonic() < deadline and server.process.poll() is None and served is None:
            try:
                served = requests.get(server.url + "/auth/login", timeout=5, allow_redirects=False).status_code
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        assert served is None, (
            f"gunicorn with TRUSTED_PROXIES=1 and no FORWARDED_ALLOW_IPS started and served requests "
            f"(status {served}: this test's database has no tables)")
        assert server.process.wait(timeout=30) != 0
        assert "FORWARDED_ALLOW_IPS" in server.log_text(), server.log()
    finally:
        server.stop()


@pytest.mark.parametrize("changes, name", [
    ({"SECRET_KEY": "password" * 8}, "SECRET_KEY"),
    ({"VERIFY_PROVIDER": "console"}, "VERIFY_PROVIDER"),
    ({"VERIFY_CODE_LENGTH": "3"}, "VERIFY_CODE_LENGTH"),
], ids=["weak-secret", "console-sender", "code-length"])
def test_gunicorn_stops_when_the_app_refuses_its_settings(safe_environment, tmp_path, changes, name):
    """A refused setting stops gunicorn itself, naming the variable: workers that exit at start
    and are started again, forever, would look like a running service to a process manager."""
    server = Instance("refused", dict(safe_environment, **changes), tmp_path, workers=2,
                      args=["--no-control-socket"])
    server.start()
    try:
        try:
            status = server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            status = None
        log = server.log_text()
        assert status is not None, f"gunicorn still running after 30 s; workers booted {log.count('Booting worker')} times"
        assert status != 0
        assert name in log, log[-2000:]
        assert log.count("Booting worker") <= 2, log[-2000:]
    finally:
        server.stop()


def test_foreign_host_is_refused_not_redirected_to(fresh_live_app):
    live = fresh_live_app(FORCE_HTTPS="true")
    visitor = live.visitor()

    own = visitor.get(live.url + "/auth/login")
    assert own.status_code in (301, 302, 308)
    assert own.headers["Location"].startswith(f"https://127.0.0.1:{live.instance.port}/")

    for host in ("evil.example", f"evil.example:{live.instance.port}"):
        response = visitor.get(live.url + "/auth/login", headers={"Host": host})
        assert "evil.example" not in response.headers.get("Location", ""), (
            f"Host: {host} -> {response.status_code} Location: {response.headers.get('Location')}")
        assert response.status_code == 400, response.status_code
