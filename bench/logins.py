"""Whole 2FA logins: the app's CPU per login without the password hash, and logins per second.

A whole login is the five requests a person makes: the login page, the password (a code is sent to
the fake Verify), the code page, the code (checked by the fake), the profile.

- In-process (Flask's test client, production settings): the CPU time of the thread that runs the
  five requests, less the CPU time spent inside the password check, which is timed around each
  call. The fake Verify runs in other threads, so its work is not counted; waiting on it is not CPU.
  This is the target's figure.
- Under gunicorn: people log in at once, each login in a new browser, on a freshly started server
  per round; logins per second and the workers' CPU per login (password hash included).
- The password hash alone, in-process: one check at this app's settings, at Flask-Security-Too's
  default (argon2-cffi's own, which its passlib handler takes: Argon2id, 64 MiB, 3 passes, 4 lanes)
  and with werkzeug's scrypt, this app's hash before Argon2. The same library hashes for both apps,
  so at the same parameters the hash costs both the same; what differs is the app's own part.

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
HASH_CHECKS, QUICK_HASH_CHECKS = 20, 5
FST_DEFAULT = (65536, 3, 4)  # argon2.PasswordHasher()'s memory (KiB), passes and lanes: Flask-Security-Too's
OLD_SCRYPT = "scrypt:32768:8:1"  # werkzeug's default, this app's hash before Argon2: 128 × N × r bytes = 32 MiB
ROUNDS, LOGINS_PER_ROUND, PEOPLE_AT_ONCE = 5, 100, 8
PASSKEY_PEOPLE = 20
PASSKEY_ORIGIN = "https://localhost"  # WEBAUTHN_ORIGINS in the bench's environment (bench/harness.py)


class PasswordCheckTimer:
    """Times every password hash the app computes, in the calling thread's CPU: each check
    (app.passwords.verify_password) and each hash made anew (hash_password, when a login finds an
    old hash). Argon2id with PASSWORD_ARGON2_PARALLELISM = 1, the default, runs in the calling
    thread; with more lanes its other threads are not counted.

    The app calls them through the module (`passwords.verify_password`), and any loaded `app.*`
    module that imported one by name gets the timed one too; a call made inside a timed one (werkzeug's
    check for an old hash) counts once. `calls` shows that the hash was seen (a login that checked
    no password would subtract nothing, and the report says so). `clock()` is the thread's CPU time
    with the hashes taken out, standing still while one runs: a profiler timed by it does not see them.
    """

    TIMED = ("verify_password", "hash_password")

    def __init__(self):
        self.seconds, self.calls, self._since, self._patched = 0.0, 0, None, []

    def clock(self):
        now = time.thread_time()
        return now - self.seconds - (now - self._since if self._since is not None else 0.0)

    def _timed(self, original):
        def timed(*args, **kwargs):
            if self._since is not None:  # inside another timed call, which counts it
                return original(*args, **kwargs)
            self._since = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.thread_time() - self._since
                self._since = None
                self.calls += 1

        return timed

    def __enter__(self):
        from app import passwords

        replacements = {getattr(passwords, name): self._timed(getattr(passwords, name)) for name in self.TIMED}
        modules = [module for name, module in list(sys.modules.items())
                   if (name == "app" or name.startswith("app.")) and module is not None]
        for module in modules:
            for name in self.TIMED:
                original = getattr(module, name, None)
                if original in replacements:
                    setattr(module, name, replacements[original])
                    self._patched.append((module, name, original))
        return self

    def __exit__(self, *exc):
        for module, name, original in self._patched:
            setattr(module, name, original)


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


def timed_checks(check, count):
    """Median CPU ms (every thread of the process: Argon2's lanes run in threads of their own) and
    wall ms of `check()`, after one call that is not counted."""
    check()
    cpu, wall = [], []
    for _ in range(count):
        started_cpu, started = time.process_time(), time.perf_counter()
        assert check()
        cpu.append(1000 * (time.process_time() - started_cpu))
        wall.append(1000 * (time.perf_counter() - started))
    return median(cpu), median(wall)


def hash_alone(run, count):
    """One password check at each cost, in this process: [{name, cost, mib, cpu_ms, wall_ms}]."""
    from argon2 import PasswordHasher
    from werkzeug.security import check_password_hash, generate_password_hash

    from app.passwords import SETTINGS

    ours = tuple(int(run.app.config[name]) for name in SETTINGS)
    rows = []
    for name, (memory, passes, lanes) in (("this app", ours), ("Flask-Security-Too's default", FST_DEFAULT)):
        hasher = PasswordHasher(memory_cost=memory, time_cost=passes, parallelism=lanes)
        hashed = hasher.hash(PASSWORD)
        cpu, wall = timed_checks(lambda: hasher.verify(hashed, PASSWORD), count)
        rows.append({"name": name, "cost": f"Argon2id m = {memory} KiB, t = {passes}, p = {lanes}",
                     "mib": memory / 1024, "cpu_ms": cpu, "wall_ms": wall})
    hashed = generate_password_hash(PASSWORD, method=OLD_SCRYPT)
    cpu, wall = timed_checks(lambda: check_password_hash(hashed, PASSWORD), count)
    rows.append({"name": "this app before Argon2 (werkzeug's default)", "cost": "scrypt N = 2^15, r = 8, p = 1",
                 "mib": 32.0, "cpu_ms": cpu, "wall_ms": wall})
    return rows
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
    with CpuWindow() as cpu_alone:
        hashes = hash_alone(run, QUICK_HASH_CHECKS if run.quick else HASH_CHECKS)
    result = {"samples": samples, "others": cpu.others, "rounds": [] if run.quick else gunicorn_rounds(run),
              "hash_alone": hashes, "hash_alone_others": cpu_alone.others}
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
    hashes = result.get("hash_alone") or []
    if hashes:
        lines.append(
            "- The password hash alone, one check in this process (median CPU of all its threads, wall time, "
            "and the memory a check holds while it runs): " + "; ".join(
                f"{row['name']}, {row['cost']}: **{row['cpu_ms']:.1f} ms** CPU, {row['wall_ms']:.1f} ms wall, "
                f"{row['mib']:.0f} MiB" for row in hashes)
            + f". Other work kept the cores {result['hash_alone_others']:.0%} busy meanwhile. Both apps hash with "
            "argon2-cffi: at the same parameters the check costs them the same, and a login's cost past it is "
            f"the app's own ({result['without_hash_ms']:.1f} ms here).")
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
