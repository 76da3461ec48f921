"""SQL statements per request, counted with SQLAlchemy's `before_cursor_execute` event.

In-process (Flask's test client, production settings), along a person's whole journey: sign up,
enable 2FA, save the recovery codes, log out, log in with a code, re-authenticate; then every other
page that takes no URL argument, opened while logged in with 2FA on and just re-authenticated; then
every form not sent yet (password, new recovery codes, new number, a recovery-code login, a
remembered browser forgotten, 2FA off, deletion).
Each request is one of three kinds, each with its target:

    anonymous page   a GET by a visitor who is not logged in               0 statements
    logged-in page   a GET while logged in, or with a login pending        ≤ 3
    POST             any form sent                                         ≤ 6
"""
import collections
import re
import time

import sqlalchemy as sa

from bench.harness import PASSWORD, Target, in_process_client, median
from bench.people import csrf_token

TARGETS = {"anonymous page": 0, "logged-in page": 3, "POST": 6}
ROUNDS, QUICK_ROUNDS = 3, 1
SKIP_ENDPOINTS = {"static", "bootstrap.static"}
TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.I)


class Counter:
    """Counts the statements sent to the database, and which table each one is about."""

    def __init__(self, engine):
        self.count = 0
        self.tables = collections.Counter()
        self.engine = engine
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1
        match = TABLE.search(statement)
        self.tables[match.group(1) if match else statement.split(None, 1)[0].upper()] += 1

    def close(self):
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)


class Journey:
    """One browser's requests, each recorded as (label, kind, method, path, status, statements)."""

    def __init__(self, app, counter):
        self.client = in_process_client(app)
        self.counter = counter
        self.rows = []
        self.logged_in = False

    def token(self, path):
        return csrf_token(self.client.get(path).get_data(as_text=True), path)

    def __call__(self, label, method, path, data=None, csrf_from=None, expect=None, logged_in=None):
        if data is not None and csrf_from:
            data = {"csrf_token": self.token(csrf_from), **data}
        self.counter.count = 0
        response = self.client.open(path, method=method, data=data)
        statements = self.counter.count
        response.close()
        if expect is not None:
            assert response.status_code == expect, (label, response.status_code, response.get_data(as_text=True)[:2000])
        status = str(response.status_code)
        if response.status_code in (301, 302, 303):
            status += " → " + response.headers["Location"].split("?")[0]
        kind = "POST" if method == "POST" else "logged-in page" if self.logged_in else "anonymous page"
        self.rows.append((label, kind, method, path, status, statements))
        if logged_in is not None:  # what this request changed, for the requests after it
            self.logged_in = logged_in
        return response


def one_journey(app, fake, number):
    """The journey once, for a new person with their own number."""
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
    counter = Counter(engine)
    go = Journey(app, counter)
    national, phone = f"07400 9{number:05d}", f"+4474009{number:05d}"
    username = f"bench-q{number}-{int(time.time())}"
    try:
        go("home, logged out", "GET", "/")
        go("login page", "GET", "/auth/login", expect=200)
        go("sign-up page", "GET", "/auth/register", expect=200)
        go("sign up", "POST", "/auth/register", {"username": username, "password": PASSWORD, "password2": PASSWORD},
           csrf_from="/auth/register", expect=302, logged_in=True)
        go("profile, 2FA off", "GET", "/profile", expect=200)
        go("confirm it's you (password) to enable 2FA", "POST", "/auth/reauthenticate?next=/profile/2fa/enable",
           {"password": PASSWORD}, csrf_from="/auth/reauthenticate?next=/profile/2fa/enable", expect=302)
        go("enable-2FA page", "GET", "/profile/2fa/enable", expect=200)
        go("enable 2FA: send code", "POST", "/profile/2fa/enable", {"country": "GB", "phone": national},
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
        go("log out", "POST", "/auth/logout", {}, csrf_from="/profile", expect=302, logged_in=False)
        go("login page, after logging out", "GET", "/auth/login", expect=200)
        go("log in: wrong password", "POST", "/auth/login", {"username": username, "password": "wrong password"},
           csrf_from="/auth/login", expect=401)
        go("log in: password, code sent", "POST", "/auth/login", {"username": username, "password": PASSWORD},
           csrf_from="/auth/login", expect=302, logged_in=True)
        go("code page", "GET", "/auth/verify", expect=200)
        go("recovery-code page", "GET", "/auth/recovery", expect=200)
        go("code: wrong", "POST", "/auth/verify", {"code": wrong(fake.last_code(phone))},
           csrf_from="/auth/verify", expect=401)
        go("code: right, logged in", "POST", "/auth/verify", {"code": fake.last_code(phone)},
           csrf_from="/auth/verify", expect=302)
        go("profile after logging in", "GET", "/profile", expect=200)
        go("re-authenticate page", "GET", "/auth/reauthenticate", expect=200)
        go("re-authenticate: password, code sent", "POST", "/auth/reauthenticate", {"password": PASSWORD},
           csrf_from="/auth/reauthenticate", expect=302)
        go("re-authenticate: code page", "GET", "/auth/reauthenticate/code", expect=200)
        go("re-authenticate: code", "POST", "/auth/reauthenticate/code", {"code": fake.last_code(phone)},
           csrf_from="/auth/reauthenticate/code", expect=302)
        done = {path for _, _, method, path, _, _ in go.rows if method == "GET"}
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint in SKIP_ENDPOINTS or "GET" not in rule.methods or rule.arguments - set(rule.defaults or {}):
                continue
            if rule.rule not in done:
                go(f"{rule.endpoint} (2FA on, re-authenticated)", "GET", rule.rule)
        every_other_post(go, app, fake, username, phone, number)
    finally:
        counter.close()
    return go.rows, counter.tables


def every_other_post(go, app, fake, username, phone, number):
    """The forms the journey has not sent yet, each once: another browser logged out, then every
    other one, the password, new recovery codes, a new number, a recovery-code login, a remembered browser forgotten, a resend, 2FA off, deletion.
    Changes that end the account's other sessions find one to end."""
    another_browser(app, fake, username, PASSWORD, phone)
    page = go.client.get("/profile/sessions").get_data(as_text=True)
    go("log out another browser", "POST", re.search(r'action="(/profile/sessions/[0-9a-f]{32}/end)"', page)[1], {},
       csrf_from="/profile/sessions", expect=302)
    another_browser(app, fake, username, PASSWORD, phone)
    go("log out everywhere else", "POST", "/profile/sessions/end-others", {}, csrf_from="/profile/sessions",
       expect=302)
    another_browser(app, fake, username, PASSWORD, phone)
    password = PASSWORD + " changed"
    go("change password", "POST", "/profile/password", {"password": password, "password2": password},
       csrf_from="/profile/password", expect=302)
    go("new recovery codes", "POST", "/profile/recovery-codes/regenerate", {},
       csrf_from="/profile/recovery-codes/regenerate", expect=302)
    codes = recovery_codes(go.client.get("/profile/recovery-codes.txt").get_data(as_text=True))
    go("new recovery codes saved", "POST", "/profile/recovery-codes", {}, csrf_from="/profile/recovery-codes",
       expect=302)
    national, phone = f"07400 8{number:05d}", f"+4474008{number:05d}"
    go("change phone: send code", "POST", "/profile/2fa/phone", {"country": "GB", "phone": national},
       csrf_from="/profile/2fa/phone", expect=302)
    go("change phone: right code", "POST", "/profile/2fa/confirm", {"code": fake.last_code(phone)},
       csrf_from="/profile/2fa/confirm", expect=302)
    go("log out (2FA on)", "POST", "/auth/logout", {}, csrf_from="/profile", expect=302, logged_in=False)

    log_in = {"username": username, "password": password}
    go("log in again: password, code sent", "POST", "/auth/login", log_in, csrf_from="/auth/login", expect=302,
       logged_in=True)
    go("code page: resend within the pause", "POST", "/auth/verify/resend", {}, csrf_from="/auth/verify",
       expect=302)
    go("log in with a recovery code", "POST", "/auth/recovery", {"code": codes[0]}, csrf_from="/auth/recovery",
       expect=302)
    go("log out after a recovery-code login", "POST", "/auth/logout", {}, csrf_from="/profile", expect=302,
       logged_in=False)

    go("log in, remembering the browser: password", "POST", "/auth/login", log_in, csrf_from="/auth/login",
       expect=302, logged_in=True)
    go("code, browser remembered", "POST", "/auth/verify", {"code": fake.last_code(phone), "remember_device": "y"},
       csrf_from="/auth/verify", expect=302)
    device = re.search(r'action="/profile/devices/(\d+)/forget"', go.client.get("/profile").get_data(as_text=True))
    go("forget this browser", "POST", f"/profile/devices/{device[1]}/forget", {}, csrf_from="/profile", expect=302)
    go("forget every browser", "POST", "/profile/devices/forget-all", {}, csrf_from="/profile", expect=302)

    another_browser(app, fake, username, password, phone)
    go("re-authenticate again: password", "POST", "/auth/reauthenticate", {"password": password},
       csrf_from="/auth/reauthenticate", expect=302)
    go("re-authenticate with a recovery code", "POST", "/auth/reauthenticate/recovery", {"code": codes[1]},
       csrf_from="/auth/reauthenticate/recovery", expect=302)
    go("turn 2FA off", "POST", "/profile/2fa/disable", {}, csrf_from="/profile/2fa/disable", expect=302)
    go("delete the account", "POST", "/profile/delete", {"username": username}, csrf_from="/profile/delete",
       expect=302, logged_in=False)


def another_browser(app, fake, username, password, phone):
    """The account logged in on a second browser (not counted), after the pause between codes."""
    time.sleep(float(app.config["SEND_COOLDOWN_SECONDS"]) + 0.1)
    client = in_process_client(app)
    for path, data in (("/auth/login", {"username": username, "password": password}), ("/auth/verify", None)):
        token = csrf_token(client.get(path).get_data(as_text=True), path)
        response = client.post(path, data={"csrf_token": token, **(data or {"code": fake.last_code(phone)})})
        assert response.status_code == 302, (path, response.status_code)
    assert response.headers["Location"].split("?")[0] == "/profile"


def recovery_codes(text):
    """The codes in the recovery-codes.txt download, one per line after the heading."""
    return [line for line in text.splitlines()[3:] if line.strip()]


def wrong(code):
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def measure(run):
    journeys = [one_journey(run.app, run.fake, number) for number in range(QUICK_ROUNDS if run.quick else ROUNDS)]
    first, tables = journeys[0]
    rows = []
    for index, (label, kind, method, path, status, _) in enumerate(first):
        counts = [rows_[index][5] for rows_, _ in journeys if len(rows_) > index]
        rows.append({"label": label, "kind": kind, "method": method, "path": path, "status": status,
                     "statements": median(counts), "per_round": counts})
    worst = {kind: max((r["statements"] for r in rows if r["kind"] == kind), default=0) for kind in TARGETS}
    return {"rows": rows, "tables": dict(tables.most_common()), "worst": worst, "rounds": len(journeys)}


def targets(result):
    found = []
    for kind, limit in TARGETS.items():
        worst = result["worst"][kind]
        over = sum(1 for r in result["rows"] if r["kind"] == kind and r["statements"] > limit)
        count = sum(1 for r in result["rows"] if r["kind"] == kind)
        figure = f"{worst:g} at most" + (f" ({over} of {count} over)" if over else f" ({count} requests)")
        found.append(Target(f"SQL statements, any {kind}", figure, f"≤ {limit}" if limit else "0", worst <= limit))
    return found


def section(result):
    lines = [
        "### SQL statements per request",
        "",
        f"In-process, along a whole journey ({result['rounds']} round{'s' if result['rounds'] > 1 else ''}, "
        f"median shown). Targets: anonymous page {TARGETS['anonymous page']}, logged-in page "
        f"≤ {TARGETS['logged-in page']}, POST ≤ {TARGETS['POST']}.",
        "",
        "| Request | Kind | Status | Statements |",
        "| --- | --- | --- | --- |",
    ]
    for r in result["rows"]:
        over = " **over**" if r["statements"] > TARGETS[r["kind"]] else ""
        lines.append(f"| {r['label']}: `{r['method']} {r['path']}` | {r['kind']} | {r['status']} | "
                     f"{r['statements']:g}{over} |")
    lines += ["", "Statements over the whole journey, by table: "
              + ", ".join(f"{name} {count}" for name, count in result["tables"].items()) + "."]
    return lines
