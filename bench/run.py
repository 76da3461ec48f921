"""The benchmark behind `make bench`: every figure in one run, each the median of several rounds.

1. A temporary SQLite database, migrated with `flask db upgrade`; the fake Twilio Verify server
   (tests/fake_verify.py) in this process; the app under gunicorn with 2 workers
   (`gunicorn -c gunicorn.conf.py main:app`), production settings, rate limits raised.
2. GET /auth/login per second, app against a bare Flask app serving the same HTML under the same
   gunicorn settings (bench/baseline_app.py).
3. Full 2FA logins per second (password, code sent, code checked), 200 per round on a freshly
   started server, with the TCP connections the workers opened to the Verify endpoint; and the
   password-hash cost on its own.
4. SQL statements per request for every page (in-process, Flask test client).
5. A load run: 20 simulated people logging in and out for 60 seconds; then each worker's memory.

Only 127.0.0.1 is used; every loop is bounded in count and time. Writes bench/RESULTS.md.
"""
import argparse
import datetime
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench import load

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "gunicorn.conf.py"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
WORKERS = 2
ACCOUNTS = 100
PHONE_FIRST = 447400100000  # +44 7400 100000 on: valid GB mobile numbers
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}

# Far above what the bench reaches: the figures measure the app, not its 429 pages.
RAISED_LIMITS = {
    "LOGIN_LIMIT_PER_IP": "1000000/minute",
    "LOGIN_LIMIT_PER_USERNAME": "1000000/minute",
    "CODE_CHECK_LIMIT_PER_IP": "1000000/minute",
    "SEND_COOLDOWN_SECONDS": "1",
    "SEND_LIMIT_PER_NUMBER": "1000000/minute",
    "SEND_LIMIT_PER_ACCOUNT": "1000000/minute",
    "SEND_LIMIT_PER_IP": "1000000/minute",
    "SMS_DAILY_LIMIT": "1000000000",
}

TARGETS = {
    "ratio": 0.8,
    "queries": 3,
    "connections": WORKERS,
    "rss_mb": 80,
}


class Settings:
    def __init__(self, quick):
        self.rounds = 5
        self.rps_seconds = 1.5 if quick else 4.0
        self.logins_per_round = 40 if quick else 200
        self.login_people = 8
        self.load_seconds = 12 if quick else 60
        self.load_people = 20


# -- helpers -----------------------------------------------------------------------------------
def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine_cpu():
    """(busy, iowait, steal, total) jiffies of all cores, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle, iowait, steal = values[3], values[4], values[7]
    total = sum(values[:8])
    return total - idle - iowait - steal, iowait, steal, total


def own_cpu():
    """CPU seconds of this process and of its finished children (the GET load processes)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class CpuWindow:
    """Who used the cores between start() and stop(): the workers, the bench, and anything else."""

    def __init__(self, server=None):
        self.server = server

    def __enter__(self):
        self.machine, self.own = machine_cpu(), own_cpu()
        self.workers = self.server.cpu_seconds() if self.server else 0.0
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc):
        busy, iowait, steal, total = (a - b for a, b in zip(machine_cpu(), self.machine))
        cores_time = (time.monotonic() - self.started) * os.cpu_count()
        self.worker_seconds = (self.server.cpu_seconds() - self.workers) if self.server else 0.0
        share = (lambda x: x / total) if total else (lambda x: 0.0)
        self.busy, self.iowait, self.steal = share(busy), share(iowait), share(steal)
        self.workers_share = self.worker_seconds / cores_time if cores_time else 0.0
        self.bench_share = (own_cpu() - self.own) / cores_time if cores_time else 0.0
        self.others = max(0.0, self.busy - self.workers_share - self.bench_share)
        self.idle = max(0.0, 1 - self.busy - self.iowait - self.steal)

    def summary(self):
        return {"busy": self.busy, "iowait": self.iowait, "steal": self.steal, "idle": self.idle,
                "workers": self.workers_share, "bench": self.bench_share, "others": self.others}


def background_load(seconds=3.0):
    """How busy the machine is before the bench starts anything: other work skews every figure."""
    with CpuWindow() as window:
        time.sleep(seconds)
    return window.summary()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def median(values):
    return statistics.median(values) if values else float("nan")


def percentile(values, fraction):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))]


def env_example_keys():
    keys = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            keys.append(line.split("=", 1)[0].strip())
    return keys


def bench_env(tmp, fake, database_url=None):
    """The environment of every app process: production settings, nothing taken from `.env`."""
    env = {key: value for key, value in os.environ.items() if key not in PROXY_VARIABLES}
    for key in env_example_keys():
        env[key] = ""  # set, so python-dotenv leaves it alone; empty counts as unset in config.py
    for key in ("PORT", "GUNICORN_BIND"):
        env.pop(key, None)
    env.update({
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": database_url or f"sqlite:///{tmp / 'bench.db'}",
        "VERIFY_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_VERIFY_SERVICE_ID": fake.service_sid,
        "TWILIO_API_BASE_URL": fake.base_url,
        "TWILIO_TIMEOUT": "5",
        "FORCE_HTTPS": "false",
        "RATELIMIT_STORAGE_URI": "memory://",
        "WEB_CONCURRENCY": str(WORKERS),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        **RAISED_LIMITS,
    })
    return env


class Gunicorn:
    """One gunicorn master with WORKERS sync workers on a free loopback port."""

    def __init__(self, app_spec, env, logfile):
        self.app_spec, self.env, self.logfile = app_spec, env, logfile
        self.proc = self.port = None

    def command(self, port="PORT"):
        cmd = [sys.executable, "-m", "gunicorn"]
        if CONF.exists():
            cmd += ["-c", str(CONF.name)]
        return cmd + ["--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}", "--no-control-socket", self.app_spec]

    def __enter__(self):
        self.port = free_port()
        env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        self.log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.command(self.port), cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.logfile}")
            if len(self.worker_pids()) == WORKERS and self._answers():
                return self
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"gunicorn did not answer within 30 s; see {self.logfile}")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _answers(self):
        try:
            with load.browser() as session:
                return session.get(self.url + "/auth/login", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def worker_pids(self):
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def rss_mb(self):
        sizes = {}
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[pid] = int(line.split()[1]) / 1024
        return sizes

    def cpu_seconds(self):
        """User + system CPU time the workers have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total

    def warm_up(self, seconds=1.0):
        """Every worker renders its templates once before anything is timed."""
        load.requests_per_second(self.port, "/auth/login", seconds, processes=1, threads=4)

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


# -- the steps ------------------------------------------------------------------------------------
def migrate(env, tmp):
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "main", "db", "upgrade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    (tmp / "migrate.log").write_text(done.stdout + done.stderr)
    if done.returncode:
        raise RuntimeError(f"flask db upgrade failed:\n{done.stderr[-3000:]}")


def accounts():
    return [{"username": f"bench-user-{i:03d}", "phone": f"+{PHONE_FIRST + i}"} for i in range(ACCOUNTS)]


def seed(app, users):
    """People with 2FA on, written straight to the database (one hash computed, shared by all)."""
    import phonenumbers
    from werkzeug.security import generate_password_hash

    from app.extensions import db
    from app.models import User

    password_hash = generate_password_hash(load.PASSWORD)
    with app.app_context():
        for person in users:
            assert phonenumbers.is_valid_number(phonenumbers.parse(person["phone"]))
            user = User()
            user.set_username(person["username"])
            user.password_hash = password_hash
            user.phone = person["phone"]
            db.session.add(user)
        db.session.commit()


def hash_cost(rounds):
    from werkzeug.security import check_password_hash, generate_password_hash

    generate, check = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        hashed = generate_password_hash(load.PASSWORD)
        generate.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert check_password_hash(hashed, load.PASSWORD)
        check.append(time.perf_counter() - started)
    return {"method": hashed.split("$", 1)[0], "generate_ms": median(generate) * 1000,
            "check_ms": median(check) * 1000}


def sql_queries(app, fake, rounds):
    from bench.queries import queries_per_request

    phones = [(f"07400 9{n:05d}", f"+4474009{n:05d}") for n in range(rounds)]
    return queries_per_request(app, fake, rounds, load.PASSWORD, phones)


IMPORT_PROBE = """
import json, sys
from main import app
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
heavy = [m for m in ("phonenumbers.geodata", "phonenumbers.carrierdata", "phonenumbers.tzdata") if m in sys.modules]
print(json.dumps({"mb": rss / 1024, "heavy": heavy}))
"""


def import_memory(env):
    """Resident memory of a process that has only imported the app (as a worker does first)."""
    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"importing the app failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def in_process_cost(app, html_file, rounds):
    """ms per GET /auth/login through the test client (no network, no gunicorn), app and baseline."""
    os.environ["BENCH_BASELINE_HTML"] = str(html_file)
    from bench.baseline_app import app as baseline

    def ms_per_request(flask_app, new_browser):
        client = flask_app.test_client()
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(100):
                if new_browser:
                    client = flask_app.test_client()
                client.get("/auth/login").close()
            times.append((time.perf_counter() - started) * 10)
        return median(times)

    ms_per_request(app, True)  # warm up
    return {"app_new": ms_per_request(app, True), "app_returning": ms_per_request(app, False),
            "baseline": ms_per_request(baseline, True)}


def login_page_rps(env, tmp, settings):
    results = {"app": [], "baseline": [], "errors": 0}
    with Gunicorn("main:app", env, tmp / "gunicorn-app.log") as app_server:
        html = load.browser().get(app_server.url + "/auth/login").text
        html_file = results["html_file"] = tmp / "login.html"
        html_file.write_text(html, encoding="utf-8")
        baseline_env = {**env, "BENCH_BASELINE_HTML": str(html_file)}
        with Gunicorn("bench.baseline_app:app", baseline_env, tmp / "gunicorn-baseline.log") as baseline:
            app_server.warm_up()
            baseline.warm_up()
            results["command"] = " ".join(app_server.command())
            results["baseline_command"] = " ".join(baseline.command())
            for round_ in range(settings.rounds):
                order = [("app", app_server), ("baseline", baseline)]
                for name, server in order if round_ % 2 == 0 else reversed(order):
                    with CpuWindow(server) as cpu:
                        rps, errors = load.requests_per_second(server.port, "/auth/login", settings.rps_seconds)
                    results.setdefault(f"{name}_cpu", []).append(cpu.summary())
                    results[name].append(rps)
                    results["errors"] += errors
                log(f"round {round_ + 1}: app {results['app'][-1]:.0f}/s, baseline {results['baseline'][-1]:.0f}/s")
    results["ratio_per_round"] = [a / b for a, b in zip(results["app"], results["baseline"])]
    return results


def login_rounds(env, tmp, fake, users, settings):
    results = {"logins_per_s": [], "connections": [], "errors": [], "done": []}
    for round_ in range(settings.rounds):
        with Gunicorn("main:app", env, tmp / "gunicorn-logins.log") as server:
            server.warm_up(0.5)
            fake.reset()  # counts connections from here: fresh workers have none open yet
            with CpuWindow(server) as cpu:
                done, errors, _, _, elapsed = load.run_people(
                    server.url, users, fake, settings.login_people, count=settings.logins_per_round, duration=300)
            results.setdefault("worker_cpu_ms", []).append(1000 * cpu.worker_seconds / max(done, 1))
            results.setdefault("cpu", []).append(cpu.summary())
            results["logins_per_s"].append(done / elapsed)
            results["connections"].append(fake.connections_opened)
            results["errors"].extend(errors)
            results["done"].append(done)
            log(f"round {round_ + 1}: {done} logins in {elapsed:.1f} s = {done / elapsed:.1f}/s, "
                f"{fake.connections_opened} connections to Verify, {len(errors)} errors")
    return results


def load_run(env, tmp, fake, users, settings):
    with Gunicorn("main:app", env, tmp / "gunicorn-load.log") as server:
        server.warm_up(0.5)
        fake.reset()
        with CpuWindow(server) as cpu:
            done, errors, request_samples, flow_samples, elapsed = load.run_people(
                server.url, users, fake, settings.load_people, duration=settings.load_seconds, full=True)
        rss = []
        for _ in range(5):
            rss.append(server.rss_mb())
            time.sleep(0.2)
    started = min((s for s, _ in request_samples), default=0)
    windows = []
    width = settings.load_seconds / 5
    for index in range(5):
        low, high = started + index * width, started + (index + 1) * width
        in_window = [d for s, d in request_samples if low <= s < high]
        flows = [d for s, d in flow_samples if low <= s < high]
        windows.append({"p50": percentile(in_window, 0.5), "p95": percentile(in_window, 0.95),
                        "flow_p50": percentile(flows, 0.5), "flow_p95": percentile(flows, 0.95)})
    requests_all = [d for _, d in request_samples]
    flows_all = [d for _, d in flow_samples]
    workers = sorted({pid for sample in rss for pid in sample})
    return {
        "flows": done, "errors": errors, "elapsed": elapsed, "requests": len(request_samples),
        "p50": percentile(requests_all, 0.5), "p95": percentile(requests_all, 0.95),
        "flow_p50": percentile(flows_all, 0.5), "flow_p95": percentile(flows_all, 0.95),
        "windows": windows,
        "worker_cpu_ms_per_visit": 1000 * cpu.worker_seconds / max(done, 1), "cpu": cpu.summary(),
        "rss": {pid: median([sample[pid] for sample in rss if pid in sample]) for pid in workers},
    }


# -- the report ---------------------------------------------------------------------------------
def tree_digest():
    """A short digest of the code being measured (app/, migrations/, config.py, main.py, gunicorn.conf.py)."""
    digest = hashlib.sha256()
    paths = [ROOT / "config.py", ROOT / "main.py", CONF, *sorted((ROOT / "app").rglob("*")),
             *sorted((ROOT / "migrations").rglob("*.py"))]
    for path in paths:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), "0")
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": int(memory) / 1024 / 1024,
            "system": f"{platform.system()} {platform.release()} ({platform.machine()})",
            "python": platform.python_version()}


def versions():
    names = ["Flask", "Werkzeug", "gunicorn", "SQLAlchemy", "Flask-SQLAlchemy", "Flask-Session", "Flask-Limiter",
             "Flask-WTF", "Flask-Login", "twilio", "requests"]
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def verdict(ok):
    return "yes" if ok else "**no**"


def report(data, settings, quick):
    m, v = data["machine"], data["versions"]
    rps, logins, hashing, load_ = data["rps"], data["logins"], data["hash"], data["load"]
    queries, tables, imported = data["queries"], data["tables"], data["import_memory"]

    def window(key):
        """A load-run latency in ms: the median over the run's five equal parts."""
        return median([w[key] for w in load_["windows"]]) * 1000

    ratio = median(rps["app"]) / median(rps["baseline"])
    worst = max(row[4] for row in queries)
    over = [row for row in queries if row[4] > TARGETS["queries"]]
    connections = median(logins["connections"])
    rss_values = list(load_["rss"].values())
    per_login_ms = 1000 / median(logins["logins_per_s"]) if median(logins["logins_per_s"]) else float("nan")
    app_ms = 1000 * WORKERS / median(rps["app"])
    base_ms = 1000 * WORKERS / median(rps["baseline"])
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`python -m bench{' --quick' if quick else ''}`) on "
        f"{data['started']:%Y-%m-%d %H:%M} UTC; the run took {data['took']:.0f} s. Each figure is the median "
        f"of {settings.rounds} rounds unless its row says otherwise.",
        "",
        "## Machine and versions",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory_gb']:.0f} GiB; {m['system']}; "
        f"Python {m['python']}",
        "- " + ", ".join(f"{name} {version}" for name, version in v.items()),
        f"- App: `{rps['command']}` (production settings, {data['database']} database, rate limits raised, "
        f"fake Twilio Verify on 127.0.0.1 in the bench process)",
        f"- Baseline: `{rps['baseline_command']}`",
        f"- Code measured: digest {data['digest']} of app/, migrations/, config.py, main.py and "
        "gunicorn.conf.py"
        + ("." if data["digest_after"] == data["digest"] else
           f" at the start, {data['digest_after']} at the end: **the code changed during the run**, so the "
           "figures mix two versions."),
        "- The load generators share the machine's cores with the server; their cost is in every figure.",
        f"- Before the run, other work kept the cores {data['background']['busy']:.0%} busy "
        f"({data['background']['steal']:.0%} stolen by the host); the rows below say how much of the "
        "cores other work took during each step. Figures from a busier machine are lower.",
        "",
        "## Figures against targets",
        "",
        "| Figure | Result | Target | Met |",
        "| --- | --- | --- | --- |",
        f"| GET /auth/login, app | {median(rps['app']):.0f} req/s | | |",
        f"| GET /auth/login, bare Flask baseline, same HTML and gunicorn settings | "
        f"{median(rps['baseline']):.0f} req/s | | |",
        f"| App / baseline | {ratio:.2f} | ≥ {TARGETS['ratio']} | {verdict(ratio >= TARGETS['ratio'])} |",
        f"| Full 2FA logins (password, code sent, code checked), {settings.login_people} at a time | "
        f"{median(logins['logins_per_s']):.1f} logins/s (one every {per_login_ms:.0f} ms) | | |",
        f"| SQL statements per request, worst page | {worst:g} | ≤ {TARGETS['queries']} | "
        f"{verdict(worst <= TARGETS['queries'])} ({len(over)} of {len(queries)} requests over) |",
        f"| TCP connections opened to the Verify endpoint over {settings.logins_per_round} logins | "
        f"{connections:g} | ≤ {TARGETS['connections']} (workers) | "
        f"{verdict(connections <= TARGETS['connections'])} |",
        f"| Resident memory per worker after the load run | "
        f"{', '.join(f'{x:.1f} MB' for x in rss_values)} | ≤ {TARGETS['rss_mb']} MB | "
        f"{verdict(rss_values and max(rss_values) <= TARGETS['rss_mb'])} |",
        f"| Load run: {settings.load_people} people, {settings.load_seconds} s, each visit = login page, "
        f"password, code page, code, profile, log out | "
        f"{load_['flows']} visits, {load_['requests']} requests, {len(load_['errors'])} errors | 0 errors | "
        f"{verdict(not load_['errors'])} |",
        f"| Load run latency per request, p50 / p95 (median of the run's 5 equal parts) | "
        f"{window('p50'):.0f} ms / {window('p95'):.0f} ms | | |",
        f"| Load run latency per visit, p50 / p95 (same) | {window('flow_p50'):.0f} ms / "
        f"{window('flow_p95'):.0f} ms | | |",
        "",
        f"Password hashing on its own ({hashing['method']}, werkzeug's default): "
        f"{hashing['generate_ms']:.0f} ms to hash, {hashing['check_ms']:.0f} ms to check, median of "
        f"{settings.rounds}; every login checks one, so a core does at most "
        f"{1000 / hashing['check_ms']:.0f} password checks a second.",
        "",
        "## Rounds",
        "",
        f"- GET /auth/login req/s, app: {', '.join(f'{x:.0f}' for x in rps['app'])}; baseline: "
        f"{', '.join(f'{x:.0f}' for x in rps['baseline'])}; ratio per round: "
        f"{', '.join(f'{x:.2f}' for x in rps['ratio_per_round'])}; failed requests: {rps['errors']} "
        f"({settings.rps_seconds:g} s per round per server, 2 client processes x 4 connections)",
        f"- Logins/s: {', '.join(f'{x:.1f}' for x in logins['logins_per_s'])}; connections to Verify: "
        f"{', '.join(str(x) for x in logins['connections'])}; failed logins: {len(logins['errors'])} "
        f"(a freshly started gunicorn per round)",
        "- Load run, per 1/5 of the run: p50 / p95 per request (ms): "
        + "; ".join(f"{w['p50'] * 1000:.0f} / {w['p95'] * 1000:.0f}" for w in load_["windows"])
        + f"; over the whole run: {load_['p50'] * 1000:.0f} / {load_['p95'] * 1000:.0f}; per visit over the "
        f"whole run: {load_['flow_p50'] * 1000:.0f} / {load_['flow_p95'] * 1000:.0f}",
        "",
        "## SQL statements per request",
        "",
        "| Request | Status | Statements (median) | Per round |",
        "| --- | --- | --- | --- |",
    ]
    for label, method, path, status, count, counts in queries:
        flag = " **over**" if count > TARGETS["queries"] else ""
        lines.append(f"| {label}: `{method} {path}` | {status} | {count:g}{flag} | "
                     f"{', '.join(str(c) for c in counts)} |")
    cost = data["in_process"]
    login_page = next((row for row in queries if row[1] == "GET" and row[2] == "/auth/login"), None)
    notes = [
        "",
        "## Where the time goes",
        "",
        f"- Under gunicorn, one GET /auth/login takes about {app_ms:.1f} ms of a worker in the app against "
        f"{base_ms:.1f} ms in the baseline (workers / requests per second).",
        f"- In-process, through Flask's test client with no network and no gunicorn, median of "
        f"{settings.rounds} x 100: {cost['app_new']:.1f} ms for a new visitor, {cost['app_returning']:.1f} ms "
        f"for one who has a session already, {cost['baseline']:.2f} ms for the baseline. "
        + (f"The app's page runs {login_page[4]:g} SQL statements (the server-side session) and renders "
           "the form with its CSRF token; the baseline returns a string." if login_page else ""),
    ]
    def cores(windows, key):
        return median([w[key] for w in windows])

    notes.append(
        f"- GET /auth/login rounds: the app's workers used {cores(rps['app_cpu'], 'workers'):.0%} of the "
        f"machine's cores and the load generator {cores(rps['app_cpu'], 'bench'):.0%}; in the baseline "
        f"rounds {cores(rps['baseline_cpu'], 'workers'):.0%} and {cores(rps['baseline_cpu'], 'bench'):.0%}: "
        "the generator needs as much CPU as the bare server, so the baseline's figure is a floor and "
        "the true ratio is lower still.")
    notes.append(
        f"- Full logins: the two workers used {median(logins['worker_cpu_ms']):.0f} ms of CPU per login "
        f"(of which the password check is about {hashing['check_ms']:.0f} ms). Shares of the cores: "
        f"workers {cores(logins['cpu'], 'workers'):.0%}, bench (load generator and fake Verify) "
        f"{cores(logins['cpu'], 'bench'):.0%}, other work on the machine {cores(logins['cpu'], 'others'):.0%}, "
        f"idle {cores(logins['cpu'], 'idle'):.0%}.")
    load_cpu = load_["cpu"]
    notes.append(
        f"- Load run: {load_['worker_cpu_ms_per_visit']:.0f} ms of worker CPU per visit. Shares of the "
        f"cores: workers {load_cpu['workers']:.0%}, bench {load_cpu['bench']:.0%}, other work "
        f"{load_cpu['others']:.0%}, disk wait {load_cpu['iowait']:.0%}, idle {load_cpu['idle']:.0%}"
        + (": the requests were waiting on something other than the CPU, which with SQLite is its one "
           "write lock shared by both worker processes and the commits reaching the disk."
           if load_cpu["idle"] > 0.2 else "."))
    notes.append(
        f"- SQL statements over one whole journey, by table: "
        + ", ".join(f"{name} {count}" for name, count in tables.most_common())
        + ". Every request reads and rewrites its server-side session (2 statements: the session table), "
          "and a logged-in one also loads its user, so any page that does more than that is over 3.")
    notes.append(
        f"- Memory: a process that has only imported the app holds {imported['mb']:.0f} MB"
        + (f"; of that, these data modules of phonenumbers are loaded: {', '.join(imported['heavy'])} "
           "(phonenumbers' geocoder imports its whole geocoding table, about 100 MB, to name countries)."
           if imported["heavy"] else "."))
    if load_["errors"]:
        notes.append("- Load-run errors (first 10): " + "; ".join(load_["errors"][:10]))
    if logins["errors"]:
        notes.append("- Failed logins in the rounds (first 10): " + "; ".join(logins["errors"][:10]))
    lines.extend(notes)
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short rounds, to check the bench itself; "
                                                             "prints the report instead of writing RESULTS.md")
    parser.add_argument("--output", type=Path, help="write the report here (default bench/RESULTS.md, "
                                                    "or nowhere with --quick)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    parser.add_argument("--database-url", help="an EMPTY database to use instead of a temporary SQLite file "
                                               "(e.g. postgresql+psycopg://user@127.0.0.1/bench)")
    args = parser.parse_args(argv)
    settings = Settings(args.quick)
    started, clock = datetime.datetime.now(datetime.timezone.utc), time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="sms2fa-bench-"))
    sys.path.insert(0, str(ROOT))
    from tests.fake_verify import FakeVerifyServer

    data = {"started": started, "machine": machine(), "versions": versions(), "digest": tree_digest()}
    log("measuring what else the machine is doing (3 s)")
    data["background"] = background_load()
    try:
        with FakeVerifyServer() as fake:
            env = bench_env(tmp, fake, args.database_url)
            data["database"] = (args.database_url or "sqlite").split(":", 1)[0].split("+", 1)[0]
            log(f"temporary folder {tmp}")
            log("migrating a fresh SQLite database with `flask db upgrade`")
            migrate(env, tmp)
            # The in-process app below reads its settings from the environment, like gunicorn's.
            os.environ.clear()
            os.environ.update(env)
            from app import create_app

            app = create_app()
            logging.getLogger().setLevel(logging.WARNING)  # the bench's own output stays readable
            users = accounts()
            seed(app, users)
            log("password hashing cost")
            data["hash"] = hash_cost(settings.rounds)
            log("SQL statements per request (in-process)")
            data["queries"], data["tables"] = sql_queries(app, fake, settings.rounds)
            data["import_memory"] = import_memory(env)
            log("GET /auth/login: app against the bare baseline")
            data["rps"] = login_page_rps(env, tmp, settings)
            log("GET /auth/login in-process: app against the baseline")
            data["in_process"] = in_process_cost(app, data["rps"]["html_file"], settings.rounds)
            log(f"full 2FA logins, {settings.logins_per_round} per round")
            data["logins"] = login_rounds(env, tmp, fake, users, settings)
            log(f"load run: {settings.load_people} people for {settings.load_seconds} s")
            data["load"] = load_run(env, tmp, fake, users, settings)
        data["took"] = time.monotonic() - clock
        data["digest_after"] = tree_digest()
        text = report(data, settings, args.quick)
        output = args.output or (None if args.quick else RESULTS)
        if output:
            output.write_text(text, encoding="utf-8")
            log(f"wrote {output}")
        print(text)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0
