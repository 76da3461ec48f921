"""Whole 2FA logins: the app's CPU per login without the password hash, and logins per second.

A whole login is the five requests a person makes: the login page, the password (a code is sent to
the fake Verify), the code page, the code (checked by the fake), the profile.

- In-process (Flask's test client, production settings): the CPU time of the thread that runs the
  five requests, less the CPU time spent inside the password check, which is timed around each
  call. The fake Verify runs in other threads, so its work is not counted; waiting on it is not CPU.
  This is the target's figure.
- Under gunicorn: people log in at once, each login in a new browser, on a freshly started server
  per round; logins per second and the workers' CPU per login (password hash included).

Beside it, a whole passkey sign-in: the login page, the options (POST /auth/passkey/options), the
browser's answer (POST /auth/passkey; forged by tests/webauthn_forge.py, outside the timing: in a
browser the authenticator does that work) and the profile. In-process, the CPU of the app's calls;
under gunicorn (a full run), the workers' CPU per sign-in, measured like the SMS login's.
"""
import sys
import time

from bench import people as simulated
from bench.harness import PASSWORD, CpuWindow, Target, in_process_client, log, median, percentile

TARGET_MS = 10
IN_PROCESS_LOGINS, QUICK_IN_PROCESS_LOGINS = 60, 15
ROUNDS, LOGINS_PER_ROUND, PEOPLE_AT_ONCE = 5, 100, 8
PASSKEY_PEOPLE = 20
PASSKEY_ORIGIN = "https://localhost"  # WEBAUTHN_ORIGINS in the bench's environment (bench/harness.py)


class PasswordCheckTimer:
    """Times every call of werkzeug's check_password_hash made by the app, in the calling thread's CPU.

    The app may import the function by name in any module, so every loaded `app.*` module that holds
    it gets the timed one; `calls` shows that the hash was seen (a login that checked no password
    would subtract nothing, and the report says so). `clock()` is the thread's CPU time with the
    checks taken out, standing still while one runs: a profiler timed by it does not see them.
    """

    def __init__(self):
        self.seconds, self.calls, self._since, self._patched = 0.0, 0, None, []

    def clock(self):
        now = time.thread_time()
        return now - self.seconds - (now - self._since if self._since is not None else 0.0)

    def __enter__(self):
        import werkzeug.security

        original = werkzeug.security.check_password_hash

        def timed(*args, **kwargs):
            self._since = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.thread_time() - self._since
                self._since = None
                self.calls += 1

        modules = [werkzeug.security] + [module for name, module in list(sys.modules.items())
                                         if (name == "app" or name.startswith("app.")) and module is not None]
        for module in modules:
            if getattr(module, "check_password_hash", None) is original:
                module.check_password_hash = timed
                self._patched.append((module, original))
        return self

    def __exit__(self, *exc):
        for module, original in self._patched:
            module.check_password_hash = original


def in_process_login(client, person, fake):
    """The five requests through the test client; raises AssertionError on an unexpected answer."""
    page = client.get("/auth/login")
    assert page.status_code == 200, page.status_code
    token = simulated.csrf_token(page.get_data(as_text=True), "/auth/login")
    answer = client.post("/auth/login", data={"csrf_token": token, "username": person["username"],
                                              "password": PASSWORD, "next": ""})
    assert answer.status_code == 302 and "/auth/verify" in answer.headers["Location"], answer.status_code
    page = client.get("/auth/verify")
    assert page.status_code == 200, page.status_code
    token = simulated.csrf_token(page.get_data(as_text=True), "/auth/verify")
    answer = client.post("/auth/verify", data={"csrf_token": token, "code": fake.last_code(person["phone"])})
    assert answer.status_code == 302 and "/profile" in answer.headers["Location"], answer.status_code
    page = client.get("/profile")
    assert page.status_code == 200, page.status_code
    return page


def in_process_cpu(run, logins):
    """Per login: CPU ms in all, CPU ms in the password check, password checks."""
    samples = []
    with PasswordCheckTimer() as hashing:
        for number in range(logins + 1):
            person = run.people[number % len(run.people)]
            client = in_process_client(run.app)
            seconds, calls = hashing.seconds, hashing.calls
            started = time.thread_time()
            page = in_process_login(client, person, run.fake)
            total = time.thread_time() - started
            token = simulated.csrf_token(page.get_data(as_text=True), "/profile")
            client.post("/auth/logout", data={"csrf_token": token})  # not part of the login
            if number:  # the first login warms caches up and is not counted
                samples.append((total * 1000, (hashing.seconds - seconds) * 1000, hashing.calls - calls))
    return samples


# -- passkey sign-ins ------------------------------------------------------------------------------

def seed_passkey_people(app, count=PASSKEY_PEOPLE):
    """People whose one way in is a synced passkey (it always counts 0, so threads may share it),
    written straight to the database as a registration would leave them."""
    import secrets

    from app.extensions import db
    from app.methods.webauthn.ceremony import lookup_of
    from app.methods.webauthn.models import WebAuthnCredential
    from app.models import WEBAUTHN, TwoFactorMethod, User
    from tests.webauthn_forge import SoftAuthenticator

    people = []
    with app.app_context():
        for number in range(count):
            key = SoftAuthenticator(origin=PASSKEY_ORIGIN, counts=False, synced=True)
            key.user_handle, key.rp_id = secrets.token_bytes(64), "localhost"
            user = User(webauthn_handle=key.user_handle)
            user.set_username(f"bench-passkey-{number:03d}")
            user.password_hash = "unused"
            db.session.add(user)
            db.session.flush()
            method = TwoFactorMethod(user_id=user.id, kind=WEBAUTHN, name="Passkey", counter=0,
                                     lookup=lookup_of(key.credential_id))
            db.session.add(method)
            db.session.flush()
            db.session.add(WebAuthnCredential(method_id=method.id, credential_id=key.credential_id,
                                              public_key=key.cose_key(), transports="internal", aaguid="",
                                              backup_eligible=True, backed_up=True))
            people.append({"username": user.username, "passkey": key})
        db.session.commit()
    return people


def in_process_passkey_sign_in(client, person):
    """The four requests of a passkey sign-in; returns the CPU seconds spent in the app's calls."""
    spent = 0.0

    def call(method, path, **kwargs):
        nonlocal spent
        started = time.thread_time()
        answer = getattr(client, method)(path, **kwargs)
        spent += time.thread_time() - started
        return answer

    page = call("get", "/auth/login")
    assert page.status_code == 200, page.status_code
    token = simulated.csrf_token(page.get_data(as_text=True), "/auth/login")
    options = call("post", "/auth/passkey/options", data={"csrf_token": token})
    assert options.status_code == 200, options.status_code
    forged = person["passkey"].assertion(options.get_json())  # the authenticator's work, not the app's
    answer = call("post", "/auth/passkey", data={"csrf_token": token, "credential": forged, "next": ""})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/profile"), answer.status_code
    page = call("get", "/profile")
    assert page.status_code == 200, page.status_code
    return spent, page


def in_process_passkey_cpu(run, people, sign_ins):
    samples = []
    for number in range(sign_ins + 1):
        client = in_process_client(run.app)
        spent, page = in_process_passkey_sign_in(client, people[number % len(people)])
        token = simulated.csrf_token(page.get_data(as_text=True), "/profile")
        client.post("/auth/logout", data={"csrf_token": token})
        if number:
            samples.append(spent * 1000)
    return samples


def passkey_visit(browser, person, fake):
    """A passkey sign-in in a new browser, then logging out."""
    page = browser.go("GET", "/auth/login", 200)
    options = browser.form("/auth/passkey/options", page, {}, 200)
    forged = person["passkey"].assertion(options.json())
    browser.form("/auth/passkey", page, {"credential": forged, "next": ""}, 302, "/profile")
    profile = browser.go("GET", "/profile", 200)
    browser.form("/auth/logout", profile, {}, 302, "/auth/login")


def passkey_round(run, people):
    """One round under gunicorn, as the SMS login's: the workers' CPU per passkey sign-in."""
    with run.gunicorn("passkeys", "main:app") as server:
        simulated.run_people(server.url, people, run.fake, PEOPLE_AT_ONCE, flow=passkey_visit, count=PEOPLE_AT_ONCE)
        with CpuWindow(server) as cpu:
            state = simulated.run_people(server.url, people, run.fake, PEOPLE_AT_ONCE, flow=passkey_visit,
                                         count=LOGINS_PER_ROUND, duration=300)
    done = state["done"]
    log(f"passkeys: {done} sign-ins, {done / state['elapsed']:.1f}/s, "
        f"{1000 * cpu.worker_seconds / done if done else float('nan'):.0f} ms of worker CPU each, "
        f"{len(state['errors'])} errors")
    return {"done": done, "errors": state["errors"][:10], "per_s": done / state["elapsed"],
            "cpu_ms": 1000 * cpu.worker_seconds / done if done else float("nan"), "others": cpu.others}


def gunicorn_rounds(run):
    rounds = []
    for index in range(ROUNDS):
        with run.gunicorn("logins", "main:app") as server:
            run.fake.reset()  # counts the connections the fresh workers open to Verify from here
            # Warm-up: every worker has served a login. The people the round starts with sit it out:
            # a second login within SEND_COOLDOWN_SECONDS would get no new code.
            simulated.run_people(server.url, run.people[-PEOPLE_AT_ONCE:], run.fake, PEOPLE_AT_ONCE,
                                 count=PEOPLE_AT_ONCE)
            with CpuWindow(server) as cpu:
                state = simulated.run_people(server.url, run.people, run.fake, PEOPLE_AT_ONCE,
                                             count=LOGINS_PER_ROUND, duration=300)
        done = state["done"]
        rounds.append({"done": done, "errors": state["errors"][:10], "logins_per_s": done / state["elapsed"],
                       "cpu_ms": 1000 * cpu.worker_seconds / done if done else float("nan"),
                       "others": cpu.others, "connections": run.fake.connections_opened})
        log(f"round {index + 1}: {done} logins, {rounds[-1]['logins_per_s']:.1f}/s, "
            f"{rounds[-1]['cpu_ms']:.0f} ms of worker CPU each, {len(state['errors'])} errors")
    return rounds


def measure(run):
    with CpuWindow() as cpu:
        samples = in_process_cpu(run, QUICK_IN_PROCESS_LOGINS if run.quick else IN_PROCESS_LOGINS)
    result = {"samples": samples, "others": cpu.others, "rounds": [] if run.quick else gunicorn_rounds(run)}
    passkey_people = seed_passkey_people(run.app)
    result["passkey_samples"] = in_process_passkey_cpu(
        run, passkey_people, QUICK_IN_PROCESS_LOGINS if run.quick else IN_PROCESS_LOGINS)
    result["passkey_ms"] = median(result["passkey_samples"])
    result["passkey_p90_ms"] = percentile(result["passkey_samples"], 0.9)
    result["passkey_round"] = None if run.quick else passkey_round(run, passkey_people)
    totals = [total for total, _, _ in samples]
    result["total_ms"] = median(totals)
    result["hash_ms"] = median(hashed for _, hashed, _ in samples)
    result["hash_calls"] = median(calls for _, _, calls in samples)
    result["without_hash_ms"] = median(total - hashed for total, hashed, _ in samples)
    result["without_hash_p90_ms"] = percentile([total - hashed for total, hashed, _ in samples], 0.9)
    return result


def targets(result):
    figure = result["without_hash_ms"]
    seen = result["hash_calls"] >= 1
    targets = [Target("Whole 2FA login: app CPU without the password hash", f"{figure:.1f} ms",
                      f"≤ {TARGET_MS} ms", figure <= TARGET_MS if seen else None)]
    if "passkey_ms" in result:
        passkey = result["passkey_ms"]
        targets.append(Target("Whole passkey sign-in: app CPU (no password, no code)", f"{passkey:.1f} ms",
                              f"≤ {TARGET_MS} ms, like a 2FA login", passkey <= TARGET_MS))
    return targets


def section(result):
    samples, rounds = result["samples"], result["rounds"]
    lines = [
        "### Whole 2FA logins",
        "",
        "A whole login: login page, password (code sent), code page, code (checked), profile.",
        "",
        f"- In-process, {len(samples)} logins, each in a new browser: **{result['without_hash_ms']:.1f} ms** of "
        f"app CPU per login without the password hash (p90 {result['without_hash_p90_ms']:.1f} ms); "
        f"{result['total_ms']:.1f} ms with it, of which the password check is {result['hash_ms']:.1f} ms "
        f"({result['hash_calls']:g} check per login). Other work kept the cores {result['others']:.0%} busy "
        "meanwhile; a busy machine makes CPU times longer too (shared caches and cores).",
    ]
    if result["hash_calls"] < 1:
        lines.append("- **No password check was seen**: the hash may be made somewhere the bench does not "
                     "time (see PasswordCheckTimer in bench/logins.py), so nothing was subtracted.")
    if rounds:
        cpu = median(r["cpu_ms"] for r in rounds)
        lines += [
            f"- Under gunicorn, {PEOPLE_AT_ONCE} people at once, {LOGINS_PER_ROUND} logins per round on a "
            f"freshly started server: **{median(r['logins_per_s'] for r in rounds):.1f} logins/s**; the workers "
            f"used {cpu:.0f} ms of CPU per login, about {cpu - result['hash_ms']:.0f} ms without the password "
            "check (gunicorn's HTTP work included). Other work kept the cores "
            f"{median(r['others'] for r in rounds):.0%} busy meanwhile.",
            "- Rounds: logins/s " + ", ".join(f"{r['logins_per_s']:.1f}" for r in rounds)
            + "; worker CPU ms per login " + ", ".join(f"{r['cpu_ms']:.0f}" for r in rounds)
            + f"; failed logins {sum(len(r['errors']) for r in rounds)}; TCP connections the workers opened "
            "to Verify per round (a client that keeps its connections opens one per worker or thread) "
            + ", ".join(str(r["connections"]) for r in rounds) + ".",
        ]
        errors = [e for r in rounds for e in r["errors"]]
        if errors:
            lines.append("- First failures: " + "; ".join(errors[:5]))
    if "passkey_ms" in result:
        lines += [
            "",
            "A whole passkey sign-in: login page, options, the browser's answer (an ES256 assertion, "
            "forged outside the timing), profile.",
            "",
            f"- In-process, {len(result['passkey_samples'])} sign-ins, each in a new browser: "
            f"**{result['passkey_ms']:.1f} ms** of app CPU per sign-in (p90 {result['passkey_p90_ms']:.1f} ms), "
            f"beside {result['without_hash_ms']:.1f} ms for a whole SMS 2FA login without its password hash "
            f"and {result['total_ms']:.1f} ms with it.",
        ]
        passkey_round_result = result.get("passkey_round")
        if passkey_round_result:
            sms_cpu = median(r["cpu_ms"] for r in rounds) if rounds else float("nan")
            lines.append(
                f"- Under gunicorn, {PEOPLE_AT_ONCE} people at once, {passkey_round_result['done']} sign-ins: "
                f"**{passkey_round_result['cpu_ms']:.0f} ms of worker CPU per passkey sign-in** (logging out "
                f"included), beside {sms_cpu:.0f} ms per SMS 2FA login; "
                f"{passkey_round_result['per_s']:.1f} sign-ins/s; failed "
                f"{len(passkey_round_result['errors'])}. Other work kept the cores "
                f"{passkey_round_result['others']:.0%} busy meanwhile.")
    return lines
