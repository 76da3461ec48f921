"""The load run: many people visiting at once for a minute, then each worker's resident memory.

A visit is a whole 2FA login (login page, password, code page, code, profile) and logging out, in a
new browser each time. The production server (gunicorn.conf.py) is started fresh; latencies are
reported per request and per visit, over the run and for each fifth of it (a server that slows
down as it runs shows it there). After the run: each worker's resident memory (VmRSS), against the
target, and, for scale, that of a process that has only imported the app.
"""
import json
import subprocess
import sys
import time

from bench import people as simulated
from bench.harness import ROOT, CpuWindow, Target, log, median, percentile

PEOPLE = 20
SECONDS = 60
TARGET_MB = 60
PARTS = 5

IMPORT_PROBE = """
import json
from main import app
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(json.dumps({"mb": rss / 1024}))
"""


def import_memory(env):
    """Resident memory of a process that has only imported the app (as a worker does first)."""
    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"importing the app failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["mb"]


def measure(run):
    with run.gunicorn("load", "main:app") as server:
        simulated.run_people(server.url, run.people[-4:], run.fake, 4, count=4)  # warm-up, as in logins.py
        with CpuWindow(server) as cpu:
            state = simulated.run_people(server.url, run.people, run.fake, PEOPLE, flow=simulated.visit,
                                         duration=SECONDS)
        samples = []
        for _ in range(5):
            samples.append(server.rss_mb())
            time.sleep(0.2)
    workers = sorted({pid for sample in samples for pid in sample})
    rss = [median(sample[pid] for sample in samples if pid in sample) for pid in workers]
    requests = [(started, seconds) for started, seconds, *_ in state["requests"]]
    start = min((s for s, _ in requests), default=0)
    width = SECONDS / PARTS
    parts = []
    for index in range(PARTS):
        low, high = start + index * width, start + (index + 1) * width
        in_part = [d for s, d in requests if low <= s < high]
        flows = [d for s, d in state["flows"] if low <= s < high]
        parts.append({"p50": percentile(in_part, 0.5), "p95": percentile(in_part, 0.95),
                      "visit_p50": percentile(flows, 0.5), "visit_p95": percentile(flows, 0.95)})
    all_requests = [d for _, d in requests]
    visits = [d for _, d in state["flows"]]
    log(f"{state['done']} visits, {len(requests)} requests, {len(state['errors'])} errors; "
        f"workers' memory {', '.join(f'{mb:.0f} MB' for mb in rss)}")
    return {
        "visits": state["done"], "requests": len(requests), "errors": state["errors"][:10],
        "error_count": len(state["errors"]), "elapsed": state["elapsed"],
        "p50": percentile(all_requests, 0.5), "p95": percentile(all_requests, 0.95),
        "visit_p50": percentile(visits, 0.5), "visit_p95": percentile(visits, 0.95), "parts": parts,
        "cpu_ms_per_visit": 1000 * cpu.worker_seconds / max(state["done"], 1), "cores": cpu.shares(),
        "rss_mb": rss, "import_mb": import_memory(run.environment()),
    }


def targets(result):
    rss = result["rss_mb"]
    worst = max(rss) if rss else float("nan")
    return [
        Target("Resident memory per worker after the load run", ", ".join(f"{mb:.0f} MB" for mb in rss),
               f"≤ {TARGET_MB} MB", bool(rss) and worst <= TARGET_MB),
        Target("Load run without errors", f"{result['error_count']} errors in {result['visits']} visits", "0",
               result["error_count"] == 0),
    ]


def section(result):
    cores = result["cores"]
    lines = [
        "### Load run and memory",
        "",
        f"{PEOPLE} people for {SECONDS} s, each visit a whole 2FA login and logging out: {result['visits']} visits, "
        f"{result['requests']} requests, {result['error_count']} errors.",
        "",
        f"- Latency per request p50 / p95: {result['p50'] * 1000:.0f} / {result['p95'] * 1000:.0f} ms; per visit: "
        f"{result['visit_p50'] * 1000:.0f} / {result['visit_p95'] * 1000:.0f} ms.",
        "- Per fifth of the run, request p50 / p95 (ms): "
        + "; ".join(f"{p['p50'] * 1000:.0f} / {p['p95'] * 1000:.0f}" for p in result["parts"]) + ".",
        f"- Workers' CPU per visit: {result['cpu_ms_per_visit']:.0f} ms, one password check included. "
        f"Cores: workers {cores['workers']:.0%}, bench {cores['bench']:.0%}, other work "
        f"{cores['others']:.0%}.",
        f"- Workers' resident memory after the run: {', '.join(f'{mb:.1f} MB' for mb in result['rss_mb'])} "
        f"(target ≤ {TARGET_MB} MB); a process that has only imported the app: {result['import_mb']:.1f} MB.",
    ]
    if result["errors"]:
        lines.append("- First errors: " + "; ".join(result["errors"][:5]))
    return lines
