"""`make bench`: every figure in one run, each measured and reported by its own module.

    queries      SQL statements per request along a whole journey (in-process)
    logins       a whole 2FA login: app CPU without the password hash; logins/s under gunicorn
    profiles     cProfile of the login page and of a whole 2FA login (in-process)
    throughput   GET of the login page: this app against Flask-Security-Too and bare Flask (wrk)
    load_run     many people for a minute, then each worker's memory
    brownout     Twilio hanging: the login page for others, and the wait for the 503 page
    lighthouse   Lighthouse's scores for the login, code and profile pages (only when named:
                 it needs Node and Lighthouse)

A run: a temporary folder and databases, the fake Twilio Verify in this process, the schema made
by `flask db upgrade`, 100 people with 2FA on; the same environment for every server
(bench/harness.py). A full run keeps its record as bench/results/<label>.json and rewrites
bench/RESULTS.md; `--quick` (throughput with short rounds and the in-process figures, about a
minute) and `--only` print their report and keep nothing.
"""
import argparse
import datetime
import logging
import os
import runpy
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import brownout, harness, lighthouse, load_run, logins, people, profiles, queries, throughput
from bench.harness import GUNICORN_CONF, ROOT, Run, log

FIGURES = {"queries": queries, "logins": logins, "profiles": profiles, "throughput": throughput,
           "load_run": load_run, "brownout": brownout, "lighthouse": lighthouse}
QUICK = ("queries", "logins", "throughput")
ON_REQUEST = ("lighthouse",)  # measured only when --only names them
REPORT_ORDER = ("throughput", "logins", "queries", "load_run", "brownout", "lighthouse", "profiles")


def server_model(env):
    """What gunicorn.conf.py asks for under the bench's environment: workers, class, threads."""
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        conf = runpy.run_path(str(GUNICORN_CONF))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    threads = conf.get("threads", 1)
    model = f"{conf.get('workers', 1)} × {conf.get('worker_class', 'sync')} workers"
    return model + (f" × {threads} threads" if threads > 1 else "")


def make_app(run):
    """The in-process app, with the servers' environment (config.py reads it at import)."""
    env = run.environment()
    harness.migrate(env, run.tmp / "migrate.log")
    os.environ.clear()
    os.environ.update(env)
    # memory:// rate limits are the bench's choice (the limits are raised out of the way): no warning.
    logging.getLogger("app.settings_check").setLevel(logging.ERROR)
    from app import create_app

    app = create_app()
    logging.getLogger().setLevel(logging.WARNING)  # the bench's own output stays readable
    return app


def report(label, run, facts, results):
    code = facts["code"]
    shown = [name for name in REPORT_ORDER if name in results]
    found = [target for name in shown for target in FIGURES[name].targets(results[name])]
    lines = [
        f"## {label}: commit {code['commit']}" + (" with uncommitted changes" if code["changed"] else ""),
        "",
        f"Commit {code['commit']} ({code['subject']}); the measured files ({', '.join(harness.MEASURED_FILES)}) "
        f"as last changed by {code['last_change']}"
        + (", plus uncommitted changes" if code["changed"] else "")
        + f". Measured {facts['started']:%Y-%m-%d %H:%M} UTC by "
        f"`make bench{' QUICK=1' if run.quick else ''}` in {facts['took']:.0f} s.",
        "",
        f"- Server: `gunicorn -c gunicorn.conf.py`, {facts['model']}; production settings, "
        f"{run.databases.kind}, server-side sessions in the database, rate limits raised out of the way, "
        "the fake Twilio Verify on 127.0.0.1 (in the bench's process).",
        f"- Machine: {harness.machine()}. Before the run other work kept the cores "
        f"{facts['background']:.0%} busy; each figure says how busy they were during it.",
        f"- {harness.versions()}.",
        "",
        "| Figure | Result | Target | Verdict |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {t.name} | {t.figure} | {t.target} | {t.verdict} |" for t in found]
    for name in shown:
        lines += [""] + FIGURES[name].section(results[name])
    return "\n".join(lines) + "\n", found


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the headline ratios in about a minute; keeps nothing")
    parser.add_argument("--label", default="latest", help="the record to keep: bench/results/LABEL.json "
                                                          "(default: latest; before and after for a change)")
    parser.add_argument("--only", help="comma-separated figures to measure (" + ", ".join(FIGURES) + "); "
                                       "prints, keeps nothing")
    parser.add_argument("--postgres", metavar="URL", help="measure on PostgreSQL: a server URL whose role may "
                                                          "create databases; the bench makes and drops its own")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, databases)")
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else [
        name for name in (QUICK if args.quick else FIGURES) if name not in ON_REQUEST]
    unknown = [name for name in chosen if name not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(unknown)}")
    keep_record = not (args.quick or args.only)

    started, clock = datetime.datetime.now(datetime.timezone.utc), time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="sms2fa-bench-"))
    sys.path.insert(0, str(ROOT))
    run = Run(tmp, args.quick, args.postgres)
    facts = {"started": started, "code": harness.code_under_test()}
    log("measuring what else the machine is doing (3 s)")
    facts["background"] = harness.background_busy()
    results = {}
    try:
        with run.fake_verify():
            log(f"temporary folder {tmp}; {run.databases.kind}; migrating with `flask db upgrade`")
            run.app = make_app(run)
            facts["model"] = server_model(run.environment())
            run.people = people.accounts()
            people.seed(run.app, run.people)
            for name in (n for n in FIGURES if n in chosen):
                log(f"{name}: {FIGURES[name].__doc__.splitlines()[0]}")
                results[name] = FIGURES[name].measure(run)
            with run.app.app_context():
                run.app.extensions["sqlalchemy"].engine.dispose()
        facts["took"] = time.monotonic() - clock
        text, found = report(args.label, run, facts, results)
        if keep_record:
            harness.save_run(args.label, {"written": started.isoformat(timespec="seconds"), **facts["code"],
                                          "targets": found, "section": text})
            log(f"kept bench/results/{args.label}.json and wrote bench/RESULTS.md")
        print(text)
    finally:
        run.databases.drop()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0
