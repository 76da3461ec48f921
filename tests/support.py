"""Plain helpers shared by the test modules (the fixtures and AuthActions are in conftest.py)."""
import html
import secrets
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from app.codes import clear_cooldown
from app.extensions import db
from app.models import SecurityEvent, User
from app.security import REAUTH_KEY
from config import ProductionConfig
from tests.conftest import PHONE, AuthActions, page_text, twilio_settings

# For modules with many logins per test: `pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)`
# keeps the send limits out of the way (they have their own tests in test_rate_limits).
NO_SEND_LIMITS = {
    "SEND_LIMIT_PER_ACCOUNT": "100/minute",
    "SEND_LIMIT_PER_NUMBER": "100/minute",
    "SEND_LIMIT_PER_IP": "100/minute",
}


# -- Pages and codes ----------------------------------------------------------------------------

def text(response):
    """The page with HTML entities decoded, as a person reads it."""
    return html.unescape(page_text(response))


def wrong(code):
    """A well-formed code that is not `code`."""
    return "000000" if code != "000000" else "111111"


def wrong_code(fake, phone=PHONE):
    """A well-formed code that is not the last one sent to `phone`."""
    return wrong(fake.last_code(phone))


# -- Browsers -----------------------------------------------------------------------------------

def new_browser(app, fake, user_agent=None, ip=None, cookies=None):
    """Another browser (optionally with its User-Agent, its own address, and copies of cookies)."""
    client = app.test_client()
    if user_agent:
        client.environ_base["HTTP_USER_AGENT"] = user_agent
    if ip:
        client.environ_base["REMOTE_ADDR"] = ip
    for name, value in (cookies or {}).items():
        client.set_cookie(name, value)
    return AuthActions(client, fake)


def logged_in(client):
    return client.get("/profile").status_code == 200


def long_lived_cookies(app, client):
    """Login cookies that outlive an idle session: what "Remember me" leaves in the browser,
    whether as a remember-me cookie or as a session cookie with a far expiry date."""
    limit = datetime.now(UTC) + app.permanent_session_lifetime + timedelta(minutes=1)
    names = (app.config["SESSION_COOKIE_NAME"], app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))
    cookies = [client.get_cookie(name) for name in names]
    return [c.key for c in cookies if c is not None and c.expires is not None and c.expires > limit]


def restart_browser(app, client):
    """What closing the browser does: cookies without an expiry date are gone."""
    for name in (app.config["SESSION_COOKIE_NAME"], app.config.get("REMEMBER_COOKIE_NAME", "remember_token")):
        cookie = client.get_cookie(name)
        if cookie is not None and cookie.expires is None:
            client.delete_cookie(name, domain=cookie.domain, path=cookie.path)


# -- Time ---------------------------------------------------------------------------------------

class ShiftedClock:
    """Stands in for one app module's `time`: its clock runs `offset` seconds ahead."""

    def __init__(self, offset):
        self.offset = offset

    def time(self):
        return time.time() + self.offset


def expire_sudo(client):
    """As if the last password entry (login or re-authentication) was 11 minutes ago."""
    with client.session_transaction() as session:
        for key in (REAUTH_KEY, "password_entered_at"):
            if key in session:
                session[key] = time.time() - 11 * 60


def assert_sent_to_reauthenticate(response, next_url):
    """A redirect to the re-authentication page, which is to lead back to `next_url`."""
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/reauthenticate"
    assert parse_qs(location.query).get("next") == [next_url]


def assert_sudo_needed(auth, url, data=None):
    """With the last password entry 11 minutes ago, the page at `url`, and its form posted anyway,
    send the person to re-authenticate. Returns the page's redirect."""
    expire_sudo(auth.client)
    response = auth.client.get(url)
    assert_sent_to_reauthenticate(response, url)
    assert_sent_to_reauthenticate(auth.post(url, data, form_url="/profile"), url)
    return response


def wait_out_cooldown(app, phone=PHONE):
    """What waiting out the resend cooldown (30 s) does, without the wait."""
    with app.app_context():
        clear_cooldown(phone)


def assert_resent(auth, button, page, channel, message):
    """After the cooldown, `button` on `page` sends a second code, by `channel`, to PHONE, and
    leads back to `page`, which says so."""
    wait_out_cooldown(auth.client.application)
    response = auth.post(button, form_url=page)
    assert response.status_code == 302
    assert response.headers["Location"] == page
    assert [(s["to"], s["channel"]) for s in auth.fake.sends] == [(PHONE, "sms"), (PHONE, channel)]
    assert message in text(auth.client.get(page))


# -- The database -------------------------------------------------------------------------------

def phone_of(app, username="alice"):
    with app.app_context():
        return User.by_username(username).phone


def event_kinds(app, username="alice"):
    """(kind, detail) of the user's security events, oldest first."""
    with app.app_context():
        user = User.by_username(username)
        query = sa.select(SecurityEvent.kind, SecurityEvent.detail).where(SecurityEvent.user_id == user.id)
        return db.session.execute(query.order_by(SecurityEvent.id)).all()


# -- Production settings ------------------------------------------------------------------------

def production_config(fake, **overrides):
    """ProductionConfig with safe settings and a throwaway database, served as https://localhost.
    No Twilio call is made: production refuses a plain-http TWILIO_API_BASE_URL such as the fake's."""
    settings = {
        **twilio_settings(fake),
        "TWILIO_API_BASE_URL": None,
        "SECRET_KEY": secrets.token_hex(32),
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "SESSION_REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_ALLOW_MEMORY": True,
        "TRUSTED_HOSTS": ["localhost"],
        "TRUSTED_PROXIES": 0,
        "FORCE_HTTPS": True,
        "SMS_ALLOWED_COUNTRIES": [],
    }
    settings.update(overrides)
    return type("P", (ProductionConfig,), settings)
