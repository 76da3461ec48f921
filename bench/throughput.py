"""GET of the login page per second: this app against Flask-Security-Too and against bare Flask.

All three run at once under the same gunicorn config and environment (bench/harness.py); wrk
(1 thread, 8 connections) loads one at a time, in alternating order round after round, so that
whatever else the machine does falls on all three alike. Each request comes on a new connection
(`Connection: close`): on eight kept-alive connections one gunicorn worker often took them all
while the other stayed idle, which halved a server's figure in about half the runs, at random.
Reported per round and as medians: this app ÷ Flask-Security-Too and this app ÷ bare Flask, with
the workers' CPU per request (a figure the shared cores disturb less) and their resident memory
after the rounds.

    Flask-Security-Too  bench/fst_app.py in bench/.venv-fst, SMS two-factor on: GET /login
    bare Flask          bench/baseline_app.py: this app's login page HTML as a string

This app's page is measured twice, in English and in Spanish (Accept-Language: es), so what the
translation costs shows in the same comparison.
"""
import re
import shutil
import subprocess

from bench import fst
from bench.harness import CpuWindow, Target, log, median

WRK = "wrk"
THREADS, CONNECTIONS = 1, 8
ROUNDS = 5
SECONDS, QUICK_SECONDS = 5, 2
TARGET_FST, FLOOR_FST, TARGET_BARE = 1.5, 1.0, 0.35
SERVERS = ("app", "app_es", "fst", "bare")
NAMES = {"app": "this app", "app_es": "this app in Spanish", "fst": "Flask-Security-Too",
         "bare": "bare Flask"}
SPANISH = ("Accept-Language", "es")
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url, seconds, header=None):
    """One wrk run: requests/s, failed requests (non-2xx answers and socket errors), p50 and p99 in ms."""
    extra = ["-H", "Connection: close"] + (["-H", f"{header[0]}: {header[1]}"] if header else [])
    done = subprocess.run([WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", *extra, url],
                          capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode:
        raise RuntimeError(f"wrk failed: {done.stderr.strip()}")
    return parse_wrk(done.stdout)


def parse_wrk(out):
    """The figures of wrk's report (with --latency)."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in ", out).group(1))
    socket_errors = re.search(r"Socket errors:(.*)", out)
    failed = sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1))) if socket_errors else 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed += int(non_2xx.group(1)) if non_2xx else 0
    latency = {p: float(v) * UNITS[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    return {"rps": rate, "requests": requests, "failed": failed, "p50_ms": latency.get("50"),
            "p99_ms": latency.get("99")}


def measure(run):
    if not shutil.which(WRK):
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk); the bench needs it")
    seconds = QUICK_SECONDS if run.quick else SECONDS
    result = {"seconds": seconds, "rounds": [], "fst_version": None}
    with run.gunicorn("app", "main:app") as app:
        status, html = app.get("/auth/login")
        assert status == 200, status
        assert b'<html lang="es"' in app.get("/auth/login", headers=dict([SPANISH]))[1], "no Spanish page"
        page = run.tmp / "login.html"
        page.write_bytes(html)
        with run.gunicorn("bare", "bench.baseline_app:app", BENCH_BASELINE_HTML=str(page)) as bare, \
                fst.server(run) as flask_security:
            servers = {"app": (app, "/auth/login", None), "app_es": (app, "/auth/login", SPANISH),
                       "fst": (flask_security, "/login", None), "bare": (bare, "/auth/login", None)}
            result["fst_version"] = fst.version()
            result["commands"] = {name: server.shown_command() for name, (server, _, _) in servers.items()
                                  if name != "app_es"}
            for server, path, header in servers.values():  # every worker renders its templates once first
                wrk(server.url + path, 1, header)
            for index in range(ROUNDS):
                order = SERVERS if index % 2 == 0 else SERVERS[::-1]
                round_ = {}
                for name in order:
                    server, path, header = servers[name]
                    with CpuWindow(server) as cpu:
                        figures = wrk(server.url + path, seconds, header)
                    requests = figures["requests"]
                    figures["cpu_ms"] = 1000 * cpu.worker_seconds / requests if requests else float("nan")
                    figures["cores"] = cpu.shares()
                    round_[name] = figures
                round_["order"] = list(order)
                result["rounds"].append(round_)
                log(f"round {index + 1}: " + ", ".join(f"{NAMES[n]} {round_[n]['rps']:.0f}/s" for n in SERVERS))
            result["rss_mb"] = {name: sorted(server.rss_mb().values()) for name, (server, _, _) in servers.items()}
    for round_ in result["rounds"]:
        round_["app_fst"] = round_["app"]["rps"] / round_["fst"]["rps"]
        round_["app_es_fst"] = round_["app_es"]["rps"] / round_["fst"]["rps"]
        round_["app_bare"] = round_["app"]["rps"] / round_["bare"]["rps"]
    result["app_fst"] = median(r["app_fst"] for r in result["rounds"])
    result["app_bare"] = median(r["app_bare"] for r in result["rounds"])
    result["app_es_fst"] = median(r["app_es_fst"] for r in result["rounds"])
    # The same comparison by the workers' CPU per request, which other work on the cores disturbs less.
    cpu = {name: median(r[name]["cpu_ms"] for r in result["rounds"]) for name in SERVERS}
    result["cpu_app_fst"], result["cpu_app_bare"] = cpu["fst"] / cpu["app"], cpu["bare"] / cpu["app"]
    result["cpu_app_es_fst"] = cpu["fst"] / cpu["app_es"]
    return result


def targets(result):
    fst_ratio, bare_ratio = result["app_fst"], result["app_bare"]
    return [
        Target("Login page: this app ÷ Flask-Security-Too", f"{fst_ratio:.2f}×",
               f"≥ {TARGET_FST}× (floor {FLOOR_FST}×)", fst_ratio >= TARGET_FST),
        Target("Login page: this app ÷ bare Flask", f"{bare_ratio:.2f}×", f"≥ {TARGET_BARE}×",
               bare_ratio >= TARGET_BARE),
    ]


def section(result):
    rounds = result["rounds"]
    fst_ratio = result["app_fst"]
    floor = ("" if fst_ratio >= TARGET_FST else
             f" (the floor of {FLOOR_FST}× is {'met' if fst_ratio >= FLOOR_FST else '**missed** too'})")
    lines = [
        "### Login page: this app, Flask-Security-Too, bare Flask",
        "",
        f"`GET` of the login page with wrk ({THREADS} thread, {CONNECTIONS} connections, a new one for each "
        f"request), {len(rounds)} "
        f"alternating rounds of {result['seconds']} s per server, all three under the same gunicorn config "
        f"and environment. Flask-Security-Too {result['fst_version']} with SMS two-factor, as its "
        "documentation shows (`bench/fst_app.py`); bare Flask returns this app's login HTML byte for byte "
        "(`bench/baseline_app.py`).",
        "",
        f"Median of the rounds: this app ÷ Flask-Security-Too **{fst_ratio:.2f}×**{floor}; this app ÷ bare "
        f"Flask **{result['app_bare']:.2f}×**. By the workers' CPU per request instead (what a core serves, "
        f"less disturbed by other work on the machine): {result['cpu_app_fst']:.2f}× and "
        f"{result['cpu_app_bare']:.2f}×. The page in Spanish ÷ Flask-Security-Too: "
        f"**{result['app_es_fst']:.2f}×** by req/s, {result['cpu_app_es_fst']:.2f}× by CPU.",
        "",
        "| Round (order) | this app req/s | in Spanish | Flask-Security-Too req/s | bare Flask req/s | ÷ FST | "
        "Spanish ÷ FST | ÷ bare |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for number, r in enumerate(rounds, 1):
        order = " → ".join({"app": "app", "app_es": "app (es)", "fst": "FST", "bare": "bare"}[n] for n in r["order"])
        lines.append(f"| {number} ({order}) | {r['app']['rps']:.0f} | {r['app_es']['rps']:.0f} | "
                     f"{r['fst']['rps']:.0f} | {r['bare']['rps']:.0f} | {r['app_fst']:.2f} | {r['app_es_fst']:.2f} | "
                     f"{r['app_bare']:.2f} |")
    rps = {name: median(r[name]['rps'] for r in rounds) for name in SERVERS}
    lines.append(f"| median | {rps['app']:.0f} | {rps['app_es']:.0f} | {rps['fst']:.0f} | {rps['bare']:.0f} | "
                 f"**{fst_ratio:.2f}** | **{result['app_es_fst']:.2f}** | **{result['app_bare']:.2f}** |")
    lines += ["", "| Server | workers' CPU per request (median) | latency p50 / p99 (median) | failed requests | "
              "cores: workers / wrk and bench / other work | workers' memory after the rounds |",
              "| --- | --- | --- | --- | --- | --- |"]
    for name in SERVERS:
        runs = [r[name] for r in rounds]
        share = lambda key: median(x["cores"][key] for x in runs)  # noqa: E731
        lines.append(
            f"| {NAMES[name]} | {median(x['cpu_ms'] for x in runs):.2f} ms | "
            f"{median(x['p50_ms'] for x in runs):.1f} / {median(x['p99_ms'] for x in runs):.1f} ms | "
            f"{sum(x['failed'] for x in runs)} | {share('workers'):.0%} / {share('bench'):.0%} / "
            f"{share('others'):.0%} | {', '.join(f'{mb:.0f} MB' for mb in result['rss_mb'][name])} |")
    lines += ["", "Commands (each with `GUNICORN_BIND` and `WEB_CONCURRENCY` from the environment):", ""]
    lines += [f"- {NAMES[name]}: `{command}`" for name, command in result["commands"].items()]
    lines.append("")
    lines.append("wrk and the servers share the machine's cores: the faster a server, the more of its "
                 "figure is the load generator's limit, so ratios against bare Flask understate the gap.")
    return lines
