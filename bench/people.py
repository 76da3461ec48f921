"""Simulated people: accounts with 2FA on, and browsers (`requests` sessions) that log in with them.

A whole 2FA login is the five requests a person makes: the login page, the password (a code is
sent), the code page, the code, the profile. A visit adds logging out. Everything talks to
127.0.0.1 only, and every loop ends on a count or a deadline.
"""
import re
import threading
import time

import requests

from bench.harness import PASSWORD

ACCOUNTS = 100
PHONE_FIRST = 447400100000  # +44 7400 100000 on: valid GB mobile numbers
INPUT = re.compile(r"<input\b[^>]*>", re.I)
VALUE = re.compile(r'\bvalue="([^"]*)"')


class FlowError(Exception):
    """A step answered something other than what a working app answers."""


def accounts():
    return [{"username": f"bench-user-{i:03d}", "phone": f"+{PHONE_FIRST + i}"} for i in range(ACCOUNTS)]


def seed(app, people):
    """People with 2FA on, written straight to the database (one hash computed, shared by all, at
    the app's cost: no login of the bench makes it anew)."""
    import phonenumbers

    from app.extensions import db
    from app.models import PHONE, TwoFactorMethod, User
    from app.passwords import hash_password

    with app.app_context():
        password_hash = hash_password(PASSWORD)
        for person in people:
            assert phonenumbers.is_valid_number(phonenumbers.parse(person["phone"]))
            user = User()
            user.set_username(person["username"])
            user.password_hash = password_hash
            db.session.add(user)
            db.session.flush()
            db.session.add(TwoFactorMethod(user_id=user.id, kind=PHONE, phone=person["phone"]))
        db.session.commit()


def csrf_token(html, where=""):
    """The value of the page's hidden `csrf_token` input, whatever the order of its attributes."""
    for tag in INPUT.findall(html):
        if 'name="csrf_token"' in tag:
            match = VALUE.search(tag)
            if match:
                return match.group(1)
    raise FlowError(f"no CSRF token on {where}")


class Browser(requests.Session):
    """A `requests` session that, like a browser behind TLS, sends the app's Secure cookies.

    Production cookies are Secure (`__Host-session`) and the bench speaks plain HTTP on loopback,
    so each cookie loses its Secure flag once stored (requests copies the jar for every request,
    cookie policy and all, so a policy set on the jar would not survive). Each request made through
    it is timed: `samples` collects (start, seconds, method, path, status).
    """

    def __init__(self, base, samples=None):
        super().__init__()
        self.trust_env = False  # loopback only, whatever proxy the environment names
        self.base, self.samples = base, samples if samples is not None else []

    def go(self, method, path, expect, location=None, **kwargs):
        started = time.monotonic()
        response = self.request(method, self.base + path, allow_redirects=False, timeout=30, **kwargs)
        self.samples.append((started, time.monotonic() - started, method, path, response.status_code))
        for cookie in self.cookies:
            cookie.secure = False
        if response.status_code != expect:
            raise FlowError(f"{method} {path}: {response.status_code}, expected {expect}")
        if location is not None and not response.headers.get("Location", "").split("?")[0].endswith(location):
            raise FlowError(f"{method} {path}: to {response.headers.get('Location')}, expected {location}")
        return response

    def form(self, path, response, data, expect, location=None):
        """POST `data` to `path` with the CSRF token of the page in `response`."""
        data = {"csrf_token": csrf_token(response.text, response.url), **data}
        return self.go("POST", path, expect, location, data=data)


def whole_login(browser, person, fake):
    """The five requests of a 2FA login; ends on the profile page (returned)."""
    page = browser.go("GET", "/auth/login", 200)
    browser.form("/auth/login", page, {"username": person["username"], "password": PASSWORD, "next": ""},
                 302, "/auth/verify")
    page = browser.go("GET", "/auth/verify", 200)
    try:
        code = fake.last_code(person["phone"])
    except KeyError as error:
        raise FlowError(f"no code was sent to {person['username']}") from error
    browser.form("/auth/verify", page, {"code": code}, 302, "/profile")
    return browser.go("GET", "/profile", 200)


def visit(browser, person, fake):
    """A whole 2FA login, then logging out."""
    profile = whole_login(browser, person, fake)
    browser.form("/auth/logout", profile, {}, 302, "/auth/login")


def run_people(base, people, fake, how_many, flow=whole_login, *, count=None, duration=None):
    """`how_many` threads, each with its own share of `people`, repeat `flow` in a new browser
    until `count` flows are done or `duration` seconds have passed (both bounds when given).

    Returns a dict: done, errors, requests [(start, s, method, path, status)], flows [(start, s)],
    elapsed.
    """
    assert count or duration
    deadline = time.monotonic() + (duration if duration else 600)
    lock = threading.Lock()
    state = {"started": 0, "done": 0, "errors": [], "requests": [], "flows": []}
    shares = [people[i::how_many] for i in range(how_many)]

    def take():
        with lock:
            if count is not None and state["started"] >= count:
                return False
            state["started"] += 1
            return True

    def person(mine):
        turn = 0
        while time.monotonic() < deadline and take():
            who = mine[turn % len(mine)]
            turn += 1
            started = time.monotonic()
            with Browser(base, state["requests"]) as browser:
                try:
                    flow(browser, who, fake)
                except (FlowError, requests.RequestException) as error:
                    with lock:
                        state["errors"].append(f"{who['username']}: {error}")
                    continue
            with lock:
                state["flows"].append((started, time.monotonic() - started))
                state["done"] += 1

    threads = [threading.Thread(target=person, args=(mine,), daemon=True) for mine in shares]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic()) + 60)
    state["elapsed"] = time.monotonic() - started
    return state
