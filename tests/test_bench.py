"""The benchmark's own parts (bench/): what they read, count and write must be right, and the
in-process figures must still run against today's app. The figures themselves are not checked
here: they live in bench/RESULTS.md."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import User
from bench import harness, lighthouse, profiles, throughput
from bench.logins import PasswordCheckTimer
from bench.people import FlowError, csrf_token
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent

WRK_REPORT = """\
Running 5s test @ http://127.0.0.1:40000/auth/login
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.14ms    3.02ms  41.96ms   83.09%
    Req/Sec   660.12     40.13   720.00     74.00%
  Latency Distribution
     50%  850.00us
     75%   13.12ms
     90%   15.70ms
     99%    1.20s
  3301 requests in 5.00s, 12.31MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    660.20
Transfer/sec:      2.46MB
"""


def test_wrk_report_is_read_with_its_units_and_every_failure():
    figures = throughput.parse_wrk(WRK_REPORT)
    assert figures == {"rps": 660.2, "requests": 3301, "failed": 10, "p50_ms": 0.85, "p99_ms": 1200.0}


def test_wrk_report_without_failures():
    clean = "\n".join(line for line in WRK_REPORT.splitlines() if "errors" not in line and "Non-2xx" not in line)
    assert throughput.parse_wrk(clean)["failed"] == 0


def lighthouse_report(**audits):
    """A Lighthouse JSON report whose audits score as given (1 unless named), each in one category."""
    every = {"first-contentful-paint": 1, "color-contrast": 1, "errors-in-console": 1, "meta-description": 1,
             "uses-text-compression": 0.5, **audits}
    weights = {"first-contentful-paint": 10, "color-contrast": 7, "errors-in-console": 1, "meta-description": 1,
               "uses-text-compression": 0}  # an opportunity: it counts in no score
    homes = {"performance": ["first-contentful-paint", "uses-text-compression"], "accessibility": ["color-contrast"],
             "best-practices": ["errors-in-console"], "seo": ["meta-description"]}
    categories = {
        key: {"score": min(every[name] for name in names if weights[name]),
              "auditRefs": [{"id": name, "weight": weights[name]} for name in names]}
        for key, names in homes.items()}
    return {"finalDisplayedUrl": "http://127.0.0.1/auth/login", "categories": categories,
            "audits": {name: {"score": score, "scoreDisplayMode": "binary" if score in (0, 1) else "numeric"}
                       for name, score in every.items()}}


def test_lighthouse_scores_and_what_kept_them_below_100():
    found = lighthouse.scores_of(lighthouse_report(**{"color-contrast": 0, "first-contentful-paint": 0.9}))
    assert found["scores"] == {"performance": 90, "accessibility": 0, "best-practices": 100, "seo": 100}
    assert found["short"] == {"performance": ["first-contentful-paint"], "accessibility": ["color-contrast"],
                              "best-practices": [], "seo": []}
    result = {"package": "lighthouse", "pages": {"login (ar)": found,
                                                 "code (ar)": lighthouse.scores_of(lighthouse_report())}}
    assert [(t.figure, t.met) for t in lighthouse.targets(result)] == [("90 / 0 / 100 / 100", False),
                                                                      ("100 / 100 / 100 / 100", True)]
    assert "| login (ar) | 90 | 0 | 100 | 100 | first-contentful-paint (performance), color-contrast " \
           "(accessibility) |" in lighthouse.section(result)


@pytest.mark.parametrize("values, fraction, expected", [
    (list(range(1, 21)), 0.95, 19),
    (list(range(1, 21)), 0.5, 10),
    ([4, 1, 3, 2], 0.5, 2),
    ([7], 0.95, 7),
    (list(range(1, 101)), 1.0, 100),
])
def test_percentile_is_nearest_rank(values, fraction, expected):
    assert harness.percentile(values, fraction) == expected


def test_percentile_of_nothing_is_not_a_number():
    value = harness.percentile([], 0.5)
    assert value != value


@pytest.mark.parametrize("html", [
    '<input id="csrf_token" name="csrf_token" type="hidden" value="tok.en-1">',
    '<input type="hidden" value="tok.en-1" name="csrf_token">',
    '<form><input name="next" value="x"><INPUT name="csrf_token" value="tok.en-1" type="hidden"/></form>',
])
def test_csrf_token_is_found_whatever_the_order_of_attributes(html):
    assert csrf_token(html) == "tok.en-1"


def test_a_page_without_csrf_token_is_a_flow_error():
    with pytest.raises(FlowError):
        csrf_token('<input name="next" value="x">', "/somewhere")


def test_password_check_timer_times_the_checks_and_takes_them_out_of_its_clock():
    from app import passwords

    original = passwords.verify_password
    hashed = generate_password_hash("pw", method="pbkdf2:sha256:200000")  # an old hash: checked by werkzeug, inside
    with PasswordCheckTimer() as timer:
        assert passwords.verify_password is not original
        started = timer.clock()
        assert passwords.verify_password(hashed, "pw")
        outside = timer.clock() - started
    assert passwords.verify_password is original
    assert timer.calls == 1
    assert timer.seconds > 0.005
    assert outside < timer.seconds / 5


def test_password_check_timer_counts_a_hash_made_anew_at_login(app, auth):
    auth.register("alice")
    auth.logout()
    with app.app_context():
        user = User.by_username("alice")
        user.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        db.session.commit()
    with PasswordCheckTimer() as timer:
        assert auth.login().status_code == 302
        assert auth.logout().status_code == 302
        assert auth.login().status_code == 302
    assert timer.calls == 3  # the old hash's check and the new hash, then one check


def test_profile_rows_are_grouped_by_package():
    site = "/x/.venv/lib/python3.11/site-packages"
    assert profiles.where((f"{site}/sqlalchemy/orm/session.py", 1, "execute")) == "sqlalchemy"
    assert profiles.where((str(ROOT / "app/templates/auth/login.html"), 4, "root")) == "templates (compiled Jinja)"
    assert profiles.where((f"{site}/flask_bootstrap/templates/base/utils.html", 1, "macro")) == \
        "templates (compiled Jinja)"
    assert profiles.where((str(ROOT / "app/auth/routes.py"), 54, "login")) == "app.auth"
    assert profiles.where(("~", 0, "<method 'execute' of 'sqlite3.Cursor' objects>")) == "C: sqlite3"
    assert profiles.where(("~", 0, "<built-in method _hashlib.scrypt>")) == "C: _hashlib"
    assert profiles.where(("~", 0, "<built-in method builtins.isinstance>")) == "C: builtins"


def record(label, written, met, figure):
    return {"label": label, "written": written, "commit": label[:3] + "1234", "targets": [
        {"name": "Login page ratio", "figure": figure, "target": "≥ 1.5×", "met": met},
    ], "section": f"## {label}: section text"}


def test_results_show_before_first_and_every_run_with_its_verdicts():
    after = record("after", "2026-12-02T10:00:00+00:00", True, "1.60×")
    before = record("before", "2026-12-03T10:00:00+00:00", False, "0.50×")
    text = harness.render_results(sorted([after, before], key=lambda r: (r["label"] != "before", r["written"])))
    assert "| Login page ratio | ≥ 1.5× | 0.50×: **missed** | 1.60×: met |" in text
    assert text.index("## before: section text") < text.index("## after: section text")


def test_saved_run_is_kept_and_results_rewritten(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(harness, "RESULTS_FILE", tmp_path / "RESULTS.md")
    harness.save_run("before", {**record("before", "2026-12-01T10:00:00+00:00", False, "0.50×"),
                                "targets": [harness.Target("Login page ratio", "0.50×", "≥ 1.5×", False)]})
    assert (tmp_path / "results" / "before.json").exists()
    assert "0.50×: **missed**" in (tmp_path / "RESULTS.md").read_text()


@pytest.mark.live
def test_in_process_figures_run_against_todays_app():
    """`python -m bench --quick --only queries,logins`: the journey and the whole login still work."""
    env = {key: value for key, value in os.environ.items() if key != "APP_ENV"}
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "queries,logins"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "### SQL statements per request" in done.stdout
    assert "(1 check per login)" in done.stdout
    assert "| Whole 2FA login: app CPU without the password hash |" in done.stdout
