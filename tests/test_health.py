"""/healthz and /readyz: for load balancers, never in the way, never rate limited.

(That the gunicorn access log leaves them out is checked against a live gunicorn in
test_brownout.py.)
"""
import logging

import pytest

from app import create_app
from app.extensions import db
from tests.conftest import csrf_token, build_app, dispose_app, make_config, redis_url
from tests.support import production_config


def test_healthz_answers_without_the_database_or_a_session(app, client, auth, statements, caplog):
    auth.register()  # a browser with a session cookie: /healthz must not even read it
    statements.clear()
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        for _ in range(20):
            response = client.get("/healthz")
            assert response.status_code == 200
            assert response.get_json() == {"status": "ok"}
            assert response.headers["Cache-Control"] == "no-store"
            assert "Set-Cookie" not in response.headers
    assert statements == []
    assert not [r for r in caplog.records if r.name.startswith("app")]


def test_readyz_reports_each_check_and_the_breaker(app, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready" and body["database"] == "ok" and body["redis"] == "not configured"
    assert body["twilio_breaker"]["state"] == "closed" and body["twilio_breaker"]["shared"] is False
    assert "Set-Cookie" not in response.headers


def test_an_open_breaker_is_reported_but_the_app_stays_ready(app, client, fake):
    from app.verification.breaker import OPEN

    breaker = app.extensions["twilio_breaker"]
    fake.inject("any", 503, code=20503, times=app.config["TWILIO_BREAKER_FAILURES"])
    with app.test_request_context():
        for _ in range(app.config["TWILIO_BREAKER_FAILURES"]):
            with pytest.raises(Exception):
                app.extensions["verifier"].send("+447400123456")
    assert breaker.state == OPEN
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["twilio_breaker"]["state"] == "open"
    assert 0 < response.get_json()["twilio_breaker"]["retry_in"] <= app.config["TWILIO_BREAKER_COOLDOWN_SECONDS"]


@pytest.mark.app_settings(VERIFY_PROVIDER="console")
def test_without_twilio_there_is_no_breaker_to_report(client):
    assert client.get("/readyz").get_json()["twilio_breaker"] == {"state": "not used"}


def test_readyz_is_503_when_the_database_does_not_answer(fake, caplog):
    app = create_app(make_config(fake, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody:x@127.0.0.1:1/none"))
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200  # the process itself is fine
        with caplog.at_level(logging.WARNING):
            for _ in range(3):
                response = client.get("/readyz")
                assert response.status_code == 503
        assert response.get_json()["database"] == "unreachable"
        assert response.get_json()["status"] == "not ready"
        assert len([r for r in caplog.records if "readiness" in r.getMessage()]) == 1  # on the change only
    finally:
        with app.app_context():
            db.engine.dispose()
        app.extensions["twilio_client"].http_client.session.close()


@pytest.mark.parametrize("setting", ["RATELIMIT_STORAGE_URI", "SESSION_REDIS_URL"])
def test_readyz_is_503_when_a_configured_redis_does_not_answer(fake, setting):
    app = create_app(make_config(fake, **{setting: "redis://127.0.0.1:1/0"}))
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["redis"] == "unreachable"
        assert response.get_json()["database"] == "ok"
    finally:
        dispose_app(app)


@pytest.mark.redis
def test_readyz_with_redis(fake):
    app = build_app(make_config(fake, RATELIMIT_STORAGE_URI=redis_url(), SESSION_REDIS_URL=redis_url()))
    try:
        body = app.test_client().get("/readyz").get_json()
        assert (body["status"], body["redis"], body["twilio_breaker"]["shared"]) == ("ready", "ok", True)
    finally:
        dispose_app(app)


@pytest.fixture
def default_limit(fake):
    """An app with a default limit on every route. Flask-Limiter keeps default limits for the
    whole process once set: they are taken away again afterwards."""
    from app.extensions import limiter

    app = build_app(make_config(fake, RATELIMIT_DEFAULT="3/minute"))
    try:
        yield app
    finally:
        limiter.limit_manager.set_default_limits([])
        dispose_app(app)


def test_neither_is_rate_limited(default_limit, fake):
    client = default_limit.test_client()
    token = csrf_token(client, "/auth/register")
    # An action with no limit of its own gets the default one (pages are never limited).
    statuses = [client.post("/profile/devices/forget-all", data={"csrf_token": token}).status_code for _ in range(5)]
    assert 429 in statuses  # a default limit applies to the app's routes...
    for _ in range(100):
        assert client.get("/healthz").status_code == 200  # ...but never to the checks
        assert client.get("/readyz").status_code == 200


def test_production_answers_a_balancer_probing_over_http_by_address(fake):
    """FORCE_HTTPS redirects every page to https, and a Host the app doesn't serve is refused;
    the checks answer anyway."""
    app = build_app(production_config(fake, FORCE_HTTPS=True, TRUSTED_HOSTS=["app.example"]))
    try:
        client = app.test_client()
        assert client.get("/auth/login", base_url="http://app.example").status_code == 302
        for path in ("/healthz", "/readyz"):
            response = client.get(path, base_url="http://10.0.0.7:8000")
            assert response.status_code == 200, path
    finally:
        dispose_app(app)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_only_get_and_head(client, path):
    assert client.head(path).status_code == 200 and client.head(path).data == b""
    response = client.post(path)
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"


def test_other_paths_go_to_the_app(client):
    assert client.get("/healthz/").status_code == 404
    assert client.get("/auth/login").status_code == 200
