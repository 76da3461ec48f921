"""The load run: many people visiting at once for a minute, then each worker's resident memory.

A visit is a whole 2FA login (login page, password, code page, code, profile) and logging out, in a
new browser each time. The production server (gunicorn.conf.py) is started fresh; latencies are
reported per request and per visit, over the run and for each fifth of it (a server that slows
down as it runs shows it there). After the run: each worker's resident memory (VmRSS), against the
target, and, for scale, that of a process that has only imported the app, and of one that has
only imported the libraries the app imports (every module from site-packages the app has loaded
once imported, none of the app's own code): the floor the app's code sits on.
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

RSS = """
def rss_mb():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:")) / 1024
"""
IMPORT_PROBE = RSS + """
import json, sys
from main import app
libraries = sorted(name for name, module in list(sys.modules.items())
                   if "site-packages" in (getattr(module, "__file__", None) or ""))
print(json.dumps({"mb": rss_mb(), "libraries": libraries}))
"""
LIBRARIES_PROBE = RSS + """
import importlib, json, sys
for name in json.loads(sys.stdin.read()):
    importlib.import_module(name)
print(json.dumps({"mb": rss_mb()}))
"""


def _probe(code, env, given=None):
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, input=given)
    if done.returncode:
        raise RuntimeError(f"the memory probe failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_memory(env):
    """Resident memory of a process that has only imported the app (as a worker does first), and
    of one that has imported only the library modules the app loads; how many packages those are."""
    app = _probe(IMPORT_PROBE, env)
    libraries = _probe(LIBRARIES_PROBE, env, json.dumps(app["libraries"]))
    packages = sorted({name.split(".")[0] for name in app["libraries"]})
    return app["mb"], libraries["mb"], packages


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
        "rss_mb": rss, **dict(zip(("import_mb", "libraries_mb", "packages"), import_memory(run.environment()))),
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
    if "libraries_mb" in result:
        lines.append(
            f"- A process that has imported only the library modules the app loads, none of its own code: "
            f"**{result['libraries_mb']:.1f} MB**, the floor under the app ({len(result['packages'])} packages: "
            + ", ".join(result["packages"]) + ").")
    if result["errors"]:
        lines.append("- First errors: " + "; ".join(result["errors"][:5]))
    return lines
