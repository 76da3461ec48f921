"""What every figure of the bench shares: the run (its folder, the fake Twilio Verify server, its
throwaway databases and the one environment every server gets), gunicorn processes, in-process
clients, statistics, and the results file.

Everything listens and connects on 127.0.0.1 only, and every wait has a deadline.
"""
import contextlib
import datetime
import http.client
import importlib.metadata
import json
import math
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
RESULTS_FILE = BENCH_DIR / "RESULTS.md"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
LOOPBACK = "127.0.0.1"
WORKERS = 2  # WEB_CONCURRENCY's default in gunicorn.conf.py: what ships
PASSWORD = "bench password 1234"
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}

# Far above what the bench reaches: the figures measure the app, not its 429 pages.
RAISED_LIMITS = {
    "LOGIN_LIMIT_PER_IP": "1000000/minute",
    "LOGIN_LIMIT_PER_USERNAME": "1000000/minute",
    "LOGIN_LIMIT_PER_ACCOUNT": "1000000/minute",
    "REAUTH_LIMIT_PER_USER": "1000000/minute",
    "SIGNUP_LIMIT_PER_IP": "1000000/minute",
    "SIGNUP_LIMIT_GLOBAL": "1000000/minute",
    "CODE_CHECK_LIMIT_PER_IP": "1000000/minute",
    "SEND_COOLDOWN_SECONDS": "1",
    "SEND_LIMIT_PER_NUMBER": "1000000/minute",
    "SEND_LIMIT_PER_NEW_NUMBER": "1000000/minute",
    "SEND_LIMIT_PER_ACCOUNT": "1000000/minute",
    "SEND_LIMIT_PER_IP": "1000000/minute",
    "SMS_DAILY_LIMIT": "1000000000",
}


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the run ----------------------------------------------------------------------------------------
class Run:
    """One `make bench`: a folder, the fake Verify server, databases, and the servers' environment."""

    def __init__(self, tmp, quick, postgres_url=None):
        self.tmp, self.quick = tmp, quick
        self.databases = Databases(tmp, postgres_url)
        self.secret_key = secrets.token_hex(32)
        self.encryption_key = Fernet.generate_key().decode()
        self.fake = None
        self.app = None  # the in-process app, once run.py has made it
        self.people = []  # accounts with 2FA on, seeded by people.seed

    @contextlib.contextmanager
    def fake_verify(self):
        """The fake Twilio Verify server (tests/fake_verify.py) on 127.0.0.1, in this process."""
        from tests.fake_verify import FakeVerifyServer

        with FakeVerifyServer(https=True) as fake:  # production refuses a plain-http Twilio
            self.fake = fake
            yield fake

    def environment(self, **overrides):
        """The environment of every process the bench starts (this app, the baseline and
        Flask-Security-Too under gunicorn, the migration) and of the in-process app.

        Production settings, nothing taken from `.env`, rate limits raised, Twilio calls sent to the
        fake over HTTPS. This is the one place to change when production asks for more (Redis).
        """
        env = {key: value for key, value in os.environ.items() if key not in PROXY_VARIABLES}
        for key in env_example_keys():
            env[key] = ""  # set, so python-dotenv leaves it alone; empty counts as unset in config.py
        for key in ("PORT", "GUNICORN_BIND"):
            env.pop(key, None)
        env.update({
            "APP_ENV": "production",
            "MAIL_DISABLED": "1",  # no mail server in the benchmarks
            "SECRET_KEY": self.secret_key,
            "ENCRYPTION_KEYS": self.encryption_key,
            "DATABASE_URL": self.databases.url("app"),
            "VERIFY_PROVIDER": "twilio",
            "TWILIO_ACCOUNT_SID": self.fake.account_sid,
            "TWILIO_AUTH_TOKEN": self.fake.auth_token,
            "TWILIO_VERIFY_SERVICE_ID": self.fake.service_sid,
            "TWILIO_API_BASE_URL": self.fake.base_url,
            "ALLOW_TWILIO_BASE_URL": "1",
            "REQUESTS_CA_BUNDLE": self.fake.ca_file,  # how the app trusts the fake's certificate
            "TWILIO_TIMEOUT": "5",
            "FORCE_HTTPS": "false",  # no TLS on loopback; cookies stay Secure (see people.Browser)
            "TRUSTED_HOSTS": LOOPBACK,
            "WEBAUTHN_RP_ID": "localhost",  # passkeys: the bench's forged answers come from this origin
            "WEBAUTHN_ORIGINS": "https://localhost",
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_ALLOW_MEMORY": "1",  # the limits are raised out of the way anyway
            "WEB_CONCURRENCY": str(WORKERS),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            **RAISED_LIMITS,
        })
        env.update(overrides)
        return env

    def gunicorn(self, name, app_spec, python=sys.executable, probe="/auth/login", **env_overrides):
        return Gunicorn(name, app_spec, self.environment(**env_overrides), self.tmp / f"gunicorn-{name}.log",
                        python=python, probe=probe)


def env_example_keys():
    keys = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            keys.append(line.split("=", 1)[0].strip())
    return keys


class Databases:
    """Throwaway databases for one run: SQLite files in the run's folder, or PostgreSQL databases
    made on the server named by --postgres (its role needs CREATEDB) and dropped at the end."""

    def __init__(self, tmp, postgres_url=None):
        self.tmp, self.postgres_url, self.made = tmp, postgres_url, {}

    @property
    def kind(self):
        return "PostgreSQL" if self.postgres_url else "SQLite"

    def url(self, name):
        if name not in self.made:
            self.made[name] = self._create(name) if self.postgres_url else f"sqlite:///{self.tmp / f'{name}.db'}"
        return self.made[name]

    def _admin(self):
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.postgres_url)
        return psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                               dbname=url.database or "postgres", autocommit=True, connect_timeout=10)

    def _create(self, name):
        from sqlalchemy.engine import make_url

        database = f"{make_url(self.postgres_url).database or 'sms2fa'}_{name}_{os.getpid()}"
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database}"')
        return make_url(self.postgres_url).set(database=database).render_as_string(hide_password=False)

    def drop(self):
        if not self.postgres_url:
            return
        from sqlalchemy.engine import make_url

        with self._admin() as conn:
            for url in self.made.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def migrate(env, logfile):
    """`flask db upgrade`, as a deploy does it."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "main", "db", "upgrade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    logfile.write_text(done.stdout + done.stderr)
    if done.returncode:
        raise RuntimeError(f"flask db upgrade failed:\n{done.stderr[-3000:]}")


# -- gunicorn ----------------------------------------------------------------------------------------
class Gunicorn:
    """One gunicorn master started with the production config (gunicorn.conf.py) on a free loopback
    port: the worker class, worker count and timeouts are whatever that file and the environment say."""

    def __init__(self, name, app_spec, env, logfile, python=sys.executable, probe="/auth/login"):
        self.name, self.app_spec, self.env, self.logfile = name, app_spec, env, logfile
        self.python, self.probe = python, probe
        self.proc = self.port = None
        self.expected_workers = max(1, int(env.get("WEB_CONCURRENCY") or WORKERS))

    def command(self, port="PORT"):
        return [self.python, "-m", "gunicorn", "-c", GUNICORN_CONF.name, "--bind", f"{LOOPBACK}:{port}",
                "--no-control-socket", self.app_spec]

    def shown_command(self):
        """The command as the report shows it: the interpreter relative to the project."""
        python = Path(self.python)
        with contextlib.suppress(ValueError):
            python = python.relative_to(ROOT)
        return " ".join([str(python), *self.command()[1:]])

    @property
    def url(self):
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self):
        self.port = free_port()
        env = {**self.env, "GUNICORN_BIND": f"{LOOPBACK}:{self.port}"}
        self.log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.command(self.port), cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"{self.name}: gunicorn exited with {self.proc.returncode}; see {self.logfile}")
            if len(self.worker_pids()) >= self.expected_workers and self.get(self.probe)[0] == 200:
                return self
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"{self.name}: gunicorn did not answer within 60 s; see {self.logfile}")

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()

    def get(self, path, timeout=5, headers=None):
        """(status, body) of one GET, or (None, error text)."""
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        except OSError as error:
            return None, str(error)
        finally:
            conn.close()

    def worker_pids(self):
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def rss_mb(self):
        """Resident memory of each worker, in MB."""
        sizes = {}
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes[pid] = int(line.split()[1]) / 1024
        return sizes

    def cpu_seconds(self):
        """User + system CPU time the workers have used so far."""
        return sum(process_cpu_seconds(pid) for pid in self.worker_pids())


def process_cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def free_port():
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


# -- the machine's cores ---------------------------------------------------------------------------
def machine_cpu():
    """(busy, total) jiffies of all cores, from /proc/stat (idle, disk wait and steal are not busy)."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])
    return total - values[3] - values[4] - values[7], total


def own_cpu_seconds():
    """CPU seconds of this process and its finished children (wrk, load generators)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class CpuWindow:
    """Who used the cores during a step: the servers' workers, the bench itself, and other work."""

    def __init__(self, *servers):
        self.servers = servers

    def __enter__(self):
        self._machine, self._own = machine_cpu(), own_cpu_seconds()
        self._workers = sum(server.cpu_seconds() for server in self.servers)
        self._started = time.monotonic()
        return self

    def __exit__(self, *exc):
        busy, total = (after - before for after, before in zip(machine_cpu(), self._machine))
        core_seconds = (time.monotonic() - self._started) * os.cpu_count()
        self.worker_seconds = sum(server.cpu_seconds() for server in self.servers) - self._workers
        self.busy = busy / total if total else 0.0
        self.workers = self.worker_seconds / core_seconds if core_seconds else 0.0
        self.bench = (own_cpu_seconds() - self._own) / core_seconds if core_seconds else 0.0
        self.others = max(0.0, self.busy - self.workers - self.bench)

    def shares(self):
        return {"workers": self.workers, "bench": self.bench, "others": self.others, "busy": self.busy}


def background_busy(seconds=3.0):
    """How busy the cores are before the bench starts anything: other work lowers every figure."""
    with CpuWindow() as window:
        time.sleep(seconds)
    return window.busy


# -- in-process ------------------------------------------------------------------------------------
HTTPS_BASE = f"https://{LOOPBACK}"


def in_process_client(app):
    """Flask's test client speaking to https://127.0.0.1 as a browser would there: TRUSTED_HOSTS
    lets that host in, and the production cookies (Secure, `__Host-`) travel over https."""
    from flask.testing import FlaskClient

    class LoopbackClient(FlaskClient):
        def open(self, *args, **kwargs):
            if args and isinstance(args[0], str):
                kwargs.setdefault("base_url", HTTPS_BASE)
            return super().open(*args, **kwargs)

    client = LoopbackClient(app, app.response_class, use_cookies=True)
    # Flask-WTF checks the Referer strictly on https, as browsers send one.
    client.environ_base["HTTP_REFERER"] = f"{HTTPS_BASE}/"
    return client


# -- statistics ------------------------------------------------------------------------------------
def median(values):
    values = list(values)
    return statistics.median(values) if values else float("nan")


def percentile(values, fraction):
    """Nearest-rank percentile: the smallest value with at least `fraction` of them at or below."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


# -- results ---------------------------------------------------------------------------------------
@dataclass
class Target:
    """One line of the targets table: a figure, the target it is held to, and whether it is met
    (None when the run could not measure it)."""

    name: str
    figure: str
    target: str
    met: bool | None

    @property
    def verdict(self):
        return {True: "met", False: "**missed**", None: "not measured"}[self.met]


MEASURED_FILES = ("app", "migrations", "config.py", "main.py", "gunicorn.conf.py", "requirements.txt")


def code_under_test():
    """What was measured: {commit, subject, last_change, changed}: the commit checked out, the last
    commit that changed the measured files, and whether they differ from it (uncommitted changes)."""
    def git(*args):
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {"commit": git("rev-parse", "--short", "HEAD") or "unknown", "subject": git("log", "-1", "--format=%s"),
            "last_change": git("log", "-1", "--format=%h %s", "--", *MEASURED_FILES),
            "changed": bool(git("status", "--porcelain", "--", *MEASURED_FILES))}


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")
    memory_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:")), 0)
    return (f"{cpu}, {os.cpu_count()} cores, {memory_kb / 1024 / 1024:.0f} GiB; {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}")


def versions(names=("Flask", "Werkzeug", "gunicorn", "SQLAlchemy", "Flask-SQLAlchemy", "pybreaker",
                    "Flask-Limiter", "Flask-WTF", "Flask-Login", "flask-talisman", "Bootstrap-Flask", "twilio")):
    found = []
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return ", ".join(found)


def save_run(label, record):
    """Keeps this run's record as bench/results/<label>.json and rewrites RESULTS.md from all records."""
    RESULTS_DIR.mkdir(exist_ok=True)
    record = {**record, "label": label,
              "targets": [asdict(t) if isinstance(t, Target) else t for t in record["targets"]]}
    (RESULTS_DIR / f"{label}.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
    RESULTS_FILE.write_text(render_results(), encoding="utf-8")


def load_runs():
    runs = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(RESULTS_DIR.glob("*.json"))]
    # "before" first, then the others in the order they were measured.
    return sorted(runs, key=lambda run: (run["label"] != "before", run["written"]))


RESULTS_INTRO = """\
# Benchmark results

Written by `make bench` from the records in `bench/results/` (one per label); each section below is one
run, labelled with the commit it measured. To reproduce on a quiet machine:

```sh
make bench                 # every figure, about 7 minutes; this file's "latest" section
make bench LABEL=after     # the same, kept as the "after" section (LABEL=before made the first one)
make bench QUICK=1         # the headline ratios and in-process figures in about a minute; prints, writes nothing
make bench POSTGRES=postgresql+psycopg://sms2fa:sms2fa@127.0.0.1:5432/postgres   # on PostgreSQL (role needs CREATEDB)
.venv/bin/python -m bench --only throughput,brownout   # some figures (see --help); prints, writes nothing
```

The bench makes its own Flask-Security-Too environment in `bench/.venv-fst` on its first run (about a
minute; delete that folder to rebuild it). Figures depend on the machine and on what else runs on it:
each section says how busy the cores were. The ratios are measured within one run, in alternating
rounds; absolute figures (req/s, ms of CPU) compare across runs only when the machine was as busy in both.
"""


def render_results(runs=None):
    runs = load_runs() if runs is None else runs
    lines = [RESULTS_INTRO, "## Targets by run", ""]
    names = []
    for run in runs:
        names += [t["name"] for t in run["targets"] if t["name"] not in names]
    lines.append("| Figure | Target | " + " | ".join(f"{run['label']} ({run['commit']})" for run in runs) + " |")
    lines.append("| --- | --- |" + " --- |" * len(runs))
    for name in names:
        cells = []
        for run in runs:
            target = next((t for t in run["targets"] if t["name"] == name), None)
            cells.append(f"{target['figure']}: {Target(**target).verdict}" if target else "–")
        target_text = next(t["target"] for run in runs for t in run["targets"] if t["name"] == name)
        lines.append(f"| {name} | {target_text} | " + " | ".join(cells) + " |")
    for run in runs:
        lines += ["", run["section"].rstrip()]
    return "\n".join(lines) + "\n"
