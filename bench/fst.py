"""Flask-Security-Too beside this app: the bench's own virtual environment and its server.

bench/.venv-fst gets bench/requirements-fst.txt plus what gunicorn.conf.py and the database need
from requirements.txt (gunicorn, python-dotenv, psycopg, and gevent or eventlet if the worker class
ever wants them), with every package both environments share held to requirements.txt's version:
the same Flask, Werkzeug, SQLAlchemy and gunicorn serve both apps. It is rebuilt when either file
changes. The server is the same gunicorn config and environment as this app's (bench/harness.py).
"""
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys

from bench.harness import BENCH_DIR, ROOT, log

VENV = BENCH_DIR / ".venv-fst"
REQUIREMENTS = BENCH_DIR / "requirements-fst.txt"
APP_REQUIREMENTS = ROOT / "requirements.txt"
FOR_THE_SERVER = {"gunicorn", "python-dotenv", "psycopg", "gevent", "eventlet", "greenlet"}
NAME = re.compile(r"^\s*([A-Za-z0-9._-]+)(\[[^\]]*\])?(.*)$")


def python():
    return VENV / "bin" / "python"


def _requirement_lines():
    for line in APP_REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        match = NAME.match(line)
        if match:
            yield match.group(1).lower(), line, match.group(1) + match.group(3).strip()


def ensure_venv(logfile):
    """Makes bench/.venv-fst unless it is there for the same two requirement files."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + APP_REQUIREMENTS.read_bytes()).hexdigest()
    stamp = VENV / ".bench-installed"
    if stamp.exists() and stamp.read_text() == digest:
        return
    log(f"making {VENV.relative_to(ROOT)} for Flask-Security-Too (about a minute, once)")
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    lines = list(_requirement_lines())
    constraints = VENV / "constraints.txt"  # pip refuses extras in constraints
    constraints.write_text("\n".join(pinned for _, _, pinned in lines) + "\n")
    server = [line for name, line, _ in lines if name in FOR_THE_SERVER]
    # PyPI is reached with the machine's own trust store, not the fake Verify's certificate
    # authority that the bench's processes are told to trust.
    env = {key: value for key, value in os.environ.items() if key != "REQUESTS_CA_BUNDLE"}
    with open(logfile, "ab") as out:
        done = subprocess.run([str(python()), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS),
                               "-c", str(constraints), *server], stdout=out, stderr=subprocess.STDOUT,
                              timeout=900, env=env)
    if done.returncode:
        raise RuntimeError(f"installing Flask-Security-Too failed; see {logfile}")
    stamp.write_text(digest)


def version():
    done = subprocess.run([str(python()), "-c", "import importlib.metadata as m; "
                           "print(m.version('Flask-Security-Too'))"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or "unknown"


def server(run):
    """Flask-Security-Too under gunicorn, its tables made and one SMS two-factor login proven."""
    ensure_venv(run.tmp / "pip-fst.log")
    overrides = {
        "BENCH_FST_DATABASE_URL": run.databases.url("fst"),
        "SECURITY_PASSWORD_SALT": secrets.token_hex(16),
        "SECURITY_TOTP_SECRET": secrets.token_urlsafe(32),
    }
    done = subprocess.run([str(python()), "-m", "bench.fst_app", "setup"], cwd=ROOT,
                          env=run.environment(**overrides), capture_output=True, text=True, timeout=120)
    (run.tmp / "fst-setup.log").write_text(done.stdout + done.stderr)
    if done.returncode:
        raise RuntimeError(f"Flask-Security-Too setup failed:\n{done.stderr[-3000:]}")
    return run.gunicorn("flask-security-too", "bench.fst_app:app", python=str(python()), probe="/login", **overrides)
