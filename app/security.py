"""Small shared helpers: safe redirects, masking phone numbers, sessions and sudo mode."""
import hashlib
import hmac
import ipaddress
import time
from functools import wraps
from urllib.parse import unquote, urlsplit

import phonenumbers
from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user

REAUTH_KEY = "reauthenticated_at"
# Keys of an authenticated session.
AUTH_AT = "authenticated_at"  # when the login completed, for the absolute timeout
REMEMBERED = "remembered"  # "Remember me" was ticked: the session lasts REMEMBER_LIFETIME
FINGERPRINT = "client_fingerprint"  # the browser the session is bound to
NETWORK = "client_network"  # the network it was last used from (a change is an event, not an end)
BROWSER = "client_browser"  # the browser in words (short_user_agent) at login, for "Where you're logged in"


def is_safe_next(target):
    """True for a same-origin relative path that no browser would follow off-site.

    Refused: `//evil`, `/\\evil`, `\\\\evil`, `https:evil`, `javascript:...`, raw white space or
    control characters (browsers drop tabs, so `/<tab>/evil` becomes `//evil`), and any of these
    hidden behind percent-encoding (`/%09/evil`, `/%5Cevil`). An encoded space in a query is fine.
    """
    if not target or not isinstance(target, str) or len(target) > 2000:
        return False
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return False
    decoded = unquote(target)
    for candidate in (target, decoded):
        if not candidate.startswith("/") or candidate.startswith(("//", "/\\")) or "\\" in candidate:
            return False
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return False
    # Decoded, a tab or newline right after the first slash would turn into `//` in a browser.
    return not any(ord(ch) < 32 or ord(ch) == 127 for ch in decoded)


def safe_next(target, default_endpoint="profile.index"):
    return target if is_safe_next(target) else url_for(default_endpoint)


def mask_phone(phone):
    """`+447400123456` -> `+44 ••• ••• •456`: enough to recognise, not enough to use."""
    if not phone:
        return ""
    try:
        number = phonenumbers.parse(phone)
        country, national = number.country_code, str(number.national_number)
    except phonenumbers.NumberParseException:
        return "•••" + phone[-2:]
    shown = "•" * max(len(national) - 3, 0) + national[-3:]
    groups = [shown[:3], shown[3:6], shown[6:]]
    return f"+{country} " + " ".join(group for group in groups if group)


def client_fingerprint():
    """What a session is bound to: the browser (its User-Agent). Not the address: phones move
    between Wi-Fi and mobile data all day, and "remember me" should survive the commute."""
    return hashlib.sha256(request.headers.get("User-Agent", "").encode()).hexdigest()


def hashed_key(kind, value):
    """What a limit counts a typed value by (a username, a phone number): an HMAC, so neither
    the limit storage nor a log line holds what was typed."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def client_key():
    """What limits per client address count by (Flask-Limiter's key)."""
    return "ip:" + client_network()


def client_network(address=None):
    """The client's address, with IPv6 grouped by /64: one IPv6 host may hold a whole /64 and
    take a new address for every request, so per-address limits must count the prefix."""
    address = client_ip() if address is None else address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def mark_reauthenticated():
    session[REAUTH_KEY] = time.time()


def recently_reauthenticated():
    at = session.get(REAUTH_KEY)
    window = current_app.config["SUDO_MINUTES"] * 60
    return isinstance(at, (int, float)) and 0 <= time.time() - at <= window


def recently_logged_in_or_reauthenticated():
    """Ending other sessions needs less than a sensitive change: the login itself counts when it is
    as recent as a re-authentication must be (SUDO_MINUTES)."""
    at = session.get(AUTH_AT)
    window = current_app.config["SUDO_MINUTES"] * 60
    return recently_reauthenticated() or (isinstance(at, (int, float)) and 0 <= time.time() - at <= window)


def sudo_required(view):
    """Sensitive settings need the password (and a second factor, with 2FA) typed in the last few
    minutes to confirm it's you. A fresh login is not enough, not even to add a first factor:
    whoever holds a copy of a session cookie could otherwise put their own phone on the account."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if not recently_reauthenticated():
            from app.i18n import _  # app.i18n imports this module

            flash(_("Please confirm it's you to continue."), "info")
            return redirect(url_for("auth.reauthenticate", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def client_ip():
    return request.remote_addr or ""


BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
PLATFORMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
             ("Mac OS X", "macOS"), ("Linux", "Linux"))


def short_user_agent(agent=None):
    """`Chrome on Linux`: enough for a person to recognise a device in the event log."""
    agent = request.user_agent.string if agent is None else agent
    browser = next((name for token, name in BROWSERS if token in agent), None)
    platform = next((name for token, name in PLATFORMS if token in agent), None)
    if browser or platform:
        return " on ".join(part for part in (browser or "Browser", platform) if part)
    return agent[:60] or "Unknown"
