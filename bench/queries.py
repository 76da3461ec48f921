"""SQL statements per request, counted with SQLAlchemy's `before_cursor_execute` event.

In-process, with Flask's test client, along a person's whole journey (sign up, enable 2FA, save
the recovery codes, log out, log in with a code) re-authenticate), and then every other
page that takes no URL argument, opened while logged in with 2FA on and just re-authenticated.
"""
import collections
import re
import statistics
import time

import sqlalchemy as sa

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
SKIP_ENDPOINTS = {"static", "bootstrap.static"}


TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.I)


class Counter:
    """Counts the statements sent to the database, and which table each one is about."""

    def __init__(self, engine):
        self.count = 0
        self.tables = collections.Counter()
        sa.event.listen(engine, "before_cursor_execute", self._seen)
        self.engine = engine

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1
        match = TABLE.search(statement)
        self.tables[match.group(1) if match else statement.split(None, 1)[0].upper()] += 1

    def close(self):
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)


class Journey:
    def __init__(self, app, counter):
        self.client = app.test_client()
        # Production settings make the test client speak https (PREFERRED_URL_SCHEME); a browser
        # then sends a Referer, which Flask-WTF's strict check on https wants.
        self.client.environ_base["HTTP_REFERER"] = "https://localhost/"
        self.counter = counter
        self.rows = []

    def token(self, path):
        match = CSRF.search(self.client.get(path).get_data(as_text=True))
        assert match, f"no CSRF token at {path}"
        return match.group(1)

    def __call__(self, label, method, path, data=None, csrf_from=None, expect=None):
        if data is not None and csrf_from:
            data = {"csrf_token": self.token(csrf_from), **data}
        self.counter.count = 0
        response = self.client.open(path, method=method, data=data)
        queries = self.counter.count
        response.close()
        if expect is not None:
            assert response.status_code == expect, (label, response.status_code, response.get_data(as_text=True)[:2000])
        status = str(response.status_code)
        if response.status_code in (301, 302, 303):
            status += " → " + response.headers["Location"].split("?")[0]
        self.rows.append((label, method, path, status, queries))
        return response


def one_journey(app, fake, n, password, phone_national, phone):
    """The journey once, for a new person with their own number; [(label, method, path, status, n)]."""
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
    counter = Counter(engine)
    go = Journey(app, counter)
    try:
        username = f"bench-q{n}-{int(time.time())}"
        go("home, logged out", "GET", "/")
        go("login page", "GET", "/auth/login", expect=200)
        go("sign-up page", "GET", "/auth/register", expect=200)
        go("sign up", "POST", "/auth/register", {"username": username, "password": password, "password2": password},
           csrf_from="/auth/register", expect=302)
        go("profile, 2FA off", "GET", "/profile", expect=200)
        go("enable-2FA page", "GET", "/profile/2fa/enable", expect=200)
        go("enable 2FA: send code", "POST", "/profile/2fa/enable", {"country": "GB", "phone": phone_national},
           csrf_from="/profile/2fa/enable", expect=302)
        go("confirm page", "GET", "/profile/2fa/confirm", expect=200)
        go("confirm: wrong code", "POST", "/profile/2fa/confirm", {"code": wrong(fake.last_code(phone))},
           csrf_from="/profile/2fa/confirm", expect=401)
        go("confirm: right code", "POST", "/profile/2fa/confirm", {"code": fake.last_code(phone)},
           csrf_from="/profile/2fa/confirm", expect=302)
        go("recovery codes page", "GET", "/profile/recovery-codes")
        go("recovery codes .txt", "GET", "/profile/recovery-codes.txt")
        go("recovery codes saved", "POST", "/profile/recovery-codes", {}, csrf_from="/profile/recovery-codes")
        go("profile, 2FA on", "GET", "/profile", expect=200)
        go("log out", "POST", "/auth/logout", {}, csrf_from="/profile", expect=302)
        go("log in: wrong password", "POST", "/auth/login", {"username": username, "password": "wrong password"},
           csrf_from="/auth/login", expect=401)
        go("log in: password, code sent", "POST", "/auth/login", {"username": username, "password": password},
           csrf_from="/auth/login", expect=302)
        go("code page", "GET", "/auth/verify", expect=200)
        go("recovery-code page", "GET", "/auth/recovery", expect=200)
        go("code: wrong", "POST", "/auth/verify", {"code": wrong(fake.last_code(phone))},
           csrf_from="/auth/verify", expect=401)
        go("code: right, logged in", "POST", "/auth/verify", {"code": fake.last_code(phone)},
           csrf_from="/auth/verify", expect=302)
        go("re-authenticate page", "GET", "/auth/reauthenticate", expect=200)
        go("re-authenticate: password, code sent", "POST", "/auth/reauthenticate", {"password": password},
           csrf_from="/auth/reauthenticate", expect=302)
        go("re-authenticate: code page", "GET", "/auth/reauthenticate/code", expect=200)
        go("re-authenticate: code", "POST", "/auth/reauthenticate/code", {"code": fake.last_code(phone)},
           csrf_from="/auth/reauthenticate/code", expect=302)
        done = {path for _, method, path, _, _ in go.rows if method == "GET"}
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint in SKIP_ENDPOINTS or "GET" not in rule.methods or rule.arguments - set(rule.defaults or {}):
                continue
            if rule.rule not in done:
                go(f"{rule.endpoint} (2FA on, re-authenticated)", "GET", rule.rule)
        go("log out (2FA on)", "POST", "/auth/logout", {}, csrf_from="/profile", expect=302)
    finally:
        counter.close()
    return go.rows, counter.tables


def wrong(code):
    return f"{(int(code) + 1) % 10**6:06d}"


def queries_per_request(app, fake, rounds, password, phones):
    """[(label, method, path, status, median queries, [per round])] over `rounds` journeys, and
    the statements of one journey by table."""
    runs = [one_journey(app, fake, n, password, national, e164) for n, (national, e164) in
            zip(range(rounds), phones)]
    journeys = [rows for rows, _ in runs]
    table = []
    for index, (label, method, path, status, _) in enumerate(journeys[0]):
        counts = [journey[index][4] for journey in journeys if len(journey) > index]
        table.append((label, method, path, status, statistics.median(counts), counts))
    return table, runs[0][1]
