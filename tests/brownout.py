"""The brownout of issue 10: Twilio hangs, people keep logging in with 2FA, others open the login page.

The app runs as production runs it (`gunicorn -c gunicorn.conf.py main:app`, APP_ENV=production,
its worker model unless told otherwise) on a freshly migrated SQLite database with six accounts
that have 2FA; Twilio Verify is the fake server, over HTTPS (trusted through REQUESTS_CA_BUNDLE),
answering every request only after `hang` seconds while TWILIO_TIMEOUT is 3. Six people keep
logging in (the login page, then the password, then a second to read the answer, and again), and
two others keep opening the login page. What comes back: how long the login page took for the
others, and how long the six waited for the answer to their password.

Used by tests/test_brownout.py, and on its own to compare worker models:

    .venv/bin/python -m tests.brownout --worker-class sync --no-breaker   # the app before issue 10
    .venv/bin/python -m tests.brownout                                     # as shipped
    .venv/bin/python -m tests.brownout --worker-class gevent               # needs `pip install gevent`

Only 127.0.0.1 is used; every loop ends by itself after `seconds`.
"""
import argparse
import http.cookies
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PEOPLE = 6
OTHERS = 2
TWILIO_TIMEOUT = 3
HANG = 10
THINK = (0.5, 1.5)  # seconds a person looks at the answer before trying again
STAGGER = 0.5  # people don't all press "Log in" in the same instant: one starts every half second
START_TIMEOUT = 30


@dataclass
class Figures:
    login_page: list = field(default_factory=list)  # seconds per GET /auth/login of the others
    login_page_errors: list = field(default_factory=list)
    waits: list = field(default_factory=list)  # (seconds, status) of each password POST of the six
    label: str = ""
    other_work_cores: float = float("nan")  # cores other work on the machine took during the run

    @staticmethod
    def percentile(values, fraction):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))] if ordered else float("nan")

    def summary(self):
        page, waits = self.login_page, [seconds for seconds, _ in self.waits]
        statuses = {}
        for _, status in self.waits:
            statuses[status] = statuses.get(status, 0) + 1
        return {
            "label": self.label,
            "login_page_requests": len(page),
            "login_page_errors": len(self.login_page_errors),
            "login_page_p50_ms": round(1000 * statistics.median(page)) if page else None,
            "login_page_p95_ms": round(1000 * self.percentile(page, 0.95)) if page else None,
            "login_page_max_ms": round(1000 * max(page)) if page else None,
            "logins": len(waits),
            "login_statuses": statuses,
            "login_wait_p50_ms": round(1000 * statistics.median(waits)) if waits else None,
            "login_wait_max_ms": round(1000 * max(waits)) if waits else None,
            "other_work_cores": round(self.other_work_cores, 2),
        }


# -- the machine's other work -------------------------------------------------------------------
# Two cores are shared with other work; a login checks its password with scrypt (about 80 ms of a
# core), so a machine busy with other work stretches every login. What other work took is part
# of the figures, and a run waits (a while) for a calm machine before it starts.
TICK = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds():
    """CPU seconds all cores spent busy since boot (steal and I/O wait not counted)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq = values[:7]
    return (user + nice + system + irq + softirq) / TICK


def process_tree_cpu_seconds(root_pid):
    """CPU seconds used so far by `root_pid` and its children (gunicorn's master and workers)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
            fields = rest.rsplit(")", 1)[1].split()
        except (OSError, IndexError, ValueError):
            continue
        if int(pid) == root_pid or int(fields[1]) == root_pid:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def own_cpu_seconds():
    times = os.times()
    return times.user + times.system


def other_work_cores(seconds=1.0):
    """Cores other processes keep busy, sampled over `seconds` while this one sleeps."""
    busy, started = machine_busy_seconds(), time.monotonic()
    time.sleep(seconds)
    return (machine_busy_seconds() - busy) / (time.monotonic() - started)


def wait_until_calm(cores=1.0, timeout=30):
    """Waits (at most `timeout` seconds) until other work keeps fewer than `cores` cores busy;
    returns what it last measured."""
    deadline = time.monotonic() + timeout
    while True:
        busy = other_work_cores()
        if busy < cores or time.monotonic() >= deadline:
            return busy


class Browser:
    """One person's browser: its own cookies, kept by hand (the session cookie is Secure, which
    no client sends over http, as a browser behind a TLS-terminating balancer would)."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.cookies = {}
        self.http = requests.Session()
        self.http.trust_env = False

    def request(self, method, path, **kwargs):
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        response = self.http.request(method, self.base_url + path, headers={"Cookie": cookie} if cookie else {},
                                     allow_redirects=False, timeout=30, **kwargs)
        self.http.cookies.clear()
        for header in response.raw.headers.getlist("Set-Cookie"):
            jar = http.cookies.SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def close(self):
        self.http.close()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_environment(fake, database_url, breaker=True, extra=None):
    """Production settings for the app processes, pointed at the fake Verify server."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TEST_", "PYTEST_", "TWILIO_", "GUNICORN_", "RATELIMIT_", "VERIFY_"))}
    env.update({
        "APP_ENV": "production",
        "FORCE_HTTPS": "false",  # plain http on loopback; production sits behind TLS
        "MAIL_DISABLED": "1",  # no mail server here
        "SECRET_KEY": secrets.token_hex(32),
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
        "VERIFY_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_VERIFY_SERVICE_ID": fake.service_sid,
        "TWILIO_API_BASE_URL": fake.base_url,
        "ALLOW_TWILIO_BASE_URL": "1",
        "TWILIO_TIMEOUT": str(TWILIO_TIMEOUT),
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_ALLOW_MEMORY": "1",
        "TRUSTED_HOSTS": "127.0.0.1,localhost",
        "WEBAUTHN_RP_ID": "localhost",
        "WEBAUTHN_ORIGINS": "https://localhost",
        "SESSION_REDIS_URL": "",
        "TRUSTED_PROXIES": "0",
        "NO_PROXY": "127.0.0.1,localhost",
        # Everyone is on 127.0.0.1: the per-address limits would otherwise be the test's subject.
        "LOGIN_LIMIT_PER_IP": "100000/minute",
        "LOGIN_LIMIT_PER_USERNAME": "100000/minute",
        "SEND_COOLDOWN_SECONDS": "1",
        "SEND_LIMIT_PER_NUMBER": "100000/minute",
        "SEND_LIMIT_PER_ACCOUNT": "100000/minute",
        "SEND_LIMIT_PER_IP": "100000/minute",
    })
    if fake.ca_file:
        env["REQUESTS_CA_BUNDLE"] = fake.ca_file  # how the app trusts the fake's certificate
    if not breaker:  # the app as it was before the circuit breaker
        env["TWILIO_BREAKER_FAILURES"] = "1000000"
    env.update(extra or {})
    return env


def prepare_database(env, people):
    """Migrates the database and adds `people` (username, phone) with 2FA on."""
    migrate = subprocess.run([sys.executable, "-m", "flask", "--app", "main", "db", "upgrade"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    if migrate.returncode:
        raise RuntimeError("flask db upgrade failed:\n" + migrate.stdout + migrate.stderr)
    seed = subprocess.run([sys.executable, "-c", SEED, json.dumps(people), PASSWORD], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if seed.returncode:
        raise RuntimeError("seeding failed:\n" + seed.stdout + seed.stderr)


SEED = """
import json, sys
from main import app
from app.extensions import db
from app.models import PHONE, TwoFactorMethod, User
from app.passwords import hash_password
with app.app_context():
    password_hash = hash_password(sys.argv[2])  # production's cost
    for username, phone in json.loads(sys.argv[1]):
        user = User()
        user.set_username(username)
        user.password_hash = password_hash
        db.session.add(user)
        db.session.flush()
        db.session.add(TwoFactorMethod(user_id=user.id, kind=PHONE, phone=phone))
    db.session.commit()
"""


class Server:
    """`gunicorn -c gunicorn.conf.py main:app` with `args` added (e.g. a worker class)."""

    def __init__(self, env, log_path, args=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(env, GUNICORN_BIND=f"127.0.0.1:{self.port}")
        self.command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket",
                        *args, "main:app"]
        self.log_path = Path(log_path)
        self.process = None

    def __enter__(self):
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/auth/login", timeout=5).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT} s:\n{self.log()}")

    def __exit__(self, *exc):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log(self):
        return self.log_path.read_text(errors="replace")[-4000:]


def accounts(count=PEOPLE):
    return [(f"waiter{n}", f"+4474009{n:05d}") for n in range(count)]


def warm_up(url, seconds=1.0):
    """Every worker and thread has served the login page and a login before the clock starts."""
    browser = Browser(url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        browser.request("GET", "/auth/login")
    browser.close()


def keep_logging_in(url, username, start_after, until, figures, lock):
    browser = Browser(url)
    think = random.Random(username)
    time.sleep(start_after)
    try:
        while time.monotonic() < until:
            browser.cookies.clear()
            page = browser.request("GET", "/auth/login")
            match = CSRF_INPUT.search(page.text)
            if not match:
                with lock:
                    figures.waits.append((0.0, page.status_code))
                time.sleep(think.uniform(*THINK))
                continue
            started = time.monotonic()
            response = browser.request("POST", "/auth/login", data={
                "csrf_token": match.group(1), "username": username, "password": PASSWORD})
            with lock:
                figures.waits.append((time.monotonic() - started, response.status_code))
            time.sleep(think.uniform(*THINK))
    finally:
        browser.close()


def keep_opening_the_login_page(url, until, figures, lock):
    browser = Browser(url)
    try:
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                response = browser.request("GET", "/auth/login")
                took = time.monotonic() - started
                with lock:
                    figures.login_page.append(took)
                    if response.status_code != 200:
                        figures.login_page_errors.append(response.status_code)
            except requests.RequestException as error:
                with lock:
                    figures.login_page.append(time.monotonic() - started)
                    figures.login_page_errors.append(type(error).__name__)
            browser.cookies.clear()  # someone new each time
            time.sleep(0.05)
    finally:
        browser.close()


def run(fake, url, seconds, hang=HANG, people=None, others=OTHERS, label="", server_pid=None):
    """The scenario against a running server; returns Figures."""
    people = people or accounts()
    figures, lock = Figures(label=label), threading.Lock()
    warm_up(url)
    fake.hang(hang)
    started = time.monotonic()
    machine, own = machine_busy_seconds(), own_cpu_seconds()
    server = process_tree_cpu_seconds(server_pid) if server_pid else 0.0
    until = started + seconds
    threads = [threading.Thread(target=keep_logging_in, args=(url, username, n * STAGGER, until, figures, lock),
                                daemon=True)
               for n, (username, _) in enumerate(people)]
    threads += [threading.Thread(target=keep_opening_the_login_page, args=(url, until, figures, lock), daemon=True)
                for _ in range(others)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + hang + 30)
        ours = own_cpu_seconds() - own
        if server_pid:
            ours += process_tree_cpu_seconds(server_pid) - server
        figures.other_work_cores = (machine_busy_seconds() - machine - ours) / (time.monotonic() - started)
    finally:
        fake.hang(0)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker-class", help="gunicorn worker class (default: gunicorn.conf.py's)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, help="threads per worker (default: gunicorn.conf.py's)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--no-breaker", action="store_true", help="the circuit breaker never opens")
    parser.add_argument("--rounds", type=int, default=1)
    options = parser.parse_args(argv)

    os.environ.setdefault("APP_ENV", "testing")
    from tests.fake_verify import FakeVerifyServer

    args = []
    if options.worker_class:
        args += ["--worker-class", options.worker_class]
    extra = {"WEB_CONCURRENCY": str(options.workers)}
    if options.worker_class == "sync" and not options.threads:
        options.threads = 1  # gunicorn quietly runs gthread for `sync` with more than one thread
    if options.threads:
        extra["GUNICORN_THREADS"] = str(options.threads)
    label = f"{options.worker_class or 'shipped'} workers={options.workers} threads={options.threads or 'shipped'}" \
            f" breaker={'off' if options.no_breaker else 'on'}"
    with FakeVerifyServer(https=True) as fake, tempfile.TemporaryDirectory() as tmp:
        for round_number in range(options.rounds):
            env = app_environment(fake, f"sqlite:///{tmp}/brownout-{round_number}.db", breaker=not options.no_breaker,
                                  extra=extra)
            prepare_database(env, accounts())
            wait_until_calm()
            with Server(env, Path(tmp) / f"gunicorn-{round_number}.log", args) as server:
                figures = run(fake, server.url, options.seconds, label=label, server_pid=server.process.pid)
            print(json.dumps(figures.summary()), flush=True)
            fake.reset()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
