"""Where the time goes: cProfile of the login page and of a whole 2FA login, in-process.

The login page is opened by a new visitor each time; the whole login is bench/logins.py's five
requests. Two views of each profile: own time by package (who spends the CPU: Jinja's compiled
templates, SQLAlchemy, Flask-WTF, ...) and the top functions by cumulative time. Profiled in
the thread's CPU time with the password check taken out (its time is given apart), and the test
client's own frames counted apart, so neither hides the app's share.
"""
import cProfile
import pstats
import re
import sysconfig
from pathlib import Path

from bench.harness import BENCH_DIR, ROOT, in_process_client
from bench.logins import PasswordCheckTimer, in_process_login
from bench.people import csrf_token

PAGE_LOADS, QUICK_PAGE_LOADS = 300, 60
LOGINS, QUICK_LOGINS = 30, 8
TOP, TOP_OWN = 15, 10
WRAPPER_FILES = ("flask/app.py", "flask/ctx.py", "jinja2/runtime.py", "jinja2/environment.py")
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
HARNESS_FILES = ("werkzeug/test.py", "flask/testing.py")
ADDRESS = re.compile(r" at 0x[0-9a-f]+")  # `<built-in method __new__ of type object at 0x7f...>`
C_MODULE = re.compile(r"of '(\w+)\.|method (\w+)\.|function (\w+)\.")


def where(func):
    """The package a profiled function belongs to; C functions by the module that defines them."""
    filename, _, name = func
    if filename == "~":
        match = C_MODULE.search(name)
        return f"C: {next(group for group in match.groups() if group)}" if match else "C: builtins"
    text = Path(filename).as_posix()
    if text.endswith(".html"):
        return "templates (compiled Jinja)"
    if "site-packages/" in text:
        return text.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    path = Path(filename).resolve()
    if path.is_relative_to(ROOT / "app"):
        return "app." + path.relative_to(ROOT / "app").parts[0].removesuffix(".py")
    if path.is_relative_to(ROOT):
        return path.relative_to(ROOT).as_posix()
    if path.is_relative_to(STDLIB):
        return "stdlib " + path.relative_to(STDLIB).parts[0].removesuffix(".py")
    return text


def short(func):
    filename, line, name = func
    if filename == "~":
        return ADDRESS.sub("", name)
    text = Path(filename).as_posix()
    for marker in ("site-packages/", f"{ROOT.as_posix()}/", f"{STDLIB.as_posix()}/"):
        if marker in text:
            text = text.split(marker, 1)[1]
    return f"{text}:{line} {name}"


def is_wrapper(func):
    """Functions that every request, template or limited view passes through: their cumulative time
    is everything under them and says nothing about where it goes."""
    filename, _, name = func
    return (filename.endswith(WRAPPER_FILES) or (filename, name) == ("~", "<method 'join' of 'str' objects>")
            or (filename.endswith("flask_limiter/_limits.py") and name == "__inner")
            or (filename.endswith("flask/templating.py") and name == "_render"))


def is_harness(func):
    return func[0].startswith(str(BENCH_DIR)) or func[0].endswith(HARNESS_FILES)


def summarise(profile, repeats, hashing):
    stats = pstats.Stats(profile)
    total = stats.total_tt
    by_package, harness = {}, 0.0
    for func, (_, _, own, _, _) in stats.stats.items():
        if is_harness(func):
            harness += own
        else:
            by_package[where(func)] = by_package.get(where(func), 0.0) + own
    app = total - harness
    packages = sorted(by_package.items(), key=lambda item: -item[1])
    cumulative = sorted(((cum, own, calls, func) for func, (_, calls, own, cum, _) in stats.stats.items()
                         if not is_harness(func) and not is_wrapper(func)), key=lambda row: -row[0])[:TOP]
    own_time = sorted(((own, calls, func) for func, (_, calls, own, _, _) in stats.stats.items()
                       if not is_harness(func)), key=lambda row: -row[0])[:TOP_OWN]
    return {
        "repeats": repeats, "app_ms": 1000 * app / repeats, "harness_ms": 1000 * harness / repeats,
        "hash_ms": 1000 * hashing.seconds / repeats, "hash_calls": hashing.calls / repeats,
        "packages": [(name, 1000 * own / repeats) for name, own in packages[:TOP]],
        "functions": [(short(func), 1000 * cum / repeats, 1000 * own / repeats, calls / repeats)
                      for cum, own, calls, func in cumulative],
        "own": [(short(func), 1000 * own / repeats, calls / repeats) for own, calls, func in own_time],
    }


def cpu_profile(hashing):
    """A profile in this thread's CPU time, with the time spent in password checks taken out."""
    return cProfile.Profile(timer=hashing.clock)


def profile_login_page(app, loads):
    for _ in range(5):  # templates compiled, caches filled
        in_process_client(app).get("/auth/login")
    with PasswordCheckTimer() as hashing:
        profile = cpu_profile(hashing)
        for _ in range(loads):
            client = in_process_client(app)
            profile.enable()
            client.get("/auth/login").close()
            profile.disable()
    return summarise(profile, loads, hashing)


def profile_whole_login(run, logins):
    def one(number, profile=None):
        person = run.people[-1 - number % len(run.people)]
        client = in_process_client(run.app)
        if profile:
            profile.enable()
        page = in_process_login(client, person, run.fake)
        if profile:
            profile.disable()
        client.post("/auth/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))})

    one(0)
    with PasswordCheckTimer() as hashing:
        profile = cpu_profile(hashing)
        for number in range(1, logins + 1):
            one(number, profile)
    return summarise(profile, logins, hashing)


def measure(run):
    return {
        "login_page": profile_login_page(run.app, QUICK_PAGE_LOADS if run.quick else PAGE_LOADS),
        "whole_login": profile_whole_login(run, QUICK_LOGINS if run.quick else LOGINS),
    }


def targets(result):
    return []


def section(result):
    lines = ["### Profiles (cProfile, in-process)", "",
             "In the thread's CPU time, the password check taken out (its time is given apart); per request "
             "(login page) or per login (whole 2FA login). cProfile slows small Python functions down more than "
             "C code: read the shares, not the totals. The cumulative table leaves out the wrappers every "
             "request passes through (Flask's dispatch, Jinja's runtime, Flask-Limiter's decorator)."]
    for key, title in (("login_page", "GET /auth/login, a new visitor each time"),
                       ("whole_login", "A whole 2FA login (five requests)")):
        p = result[key]
        app_ms = p["app_ms"]
        lines += ["", f"#### {title}: {p['repeats']} profiled", "",
                  f"The app: {app_ms:.1f} ms of CPU under the profiler; the password check besides: "
                  f"{p['hash_ms']:.1f} ms ({p['hash_calls']:g} a time); the test client: {p['harness_ms']:.1f} ms.",
                  "", "| Own time by package | ms | share |", "| --- | --- | --- |"]
        lines += [f"| {name} | {ms:.2f} | {ms / app_ms:.0%} |" for name, ms in p["packages"]]
        lines += ["", "| Top functions by cumulative time | cumulative ms | own ms | calls |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| `{name}` | {cum:.2f} | {own:.2f} | {calls:.4g} |" for name, cum, own, calls in p["functions"]]
        lines += ["", "| Top functions by own time | own ms | calls |", "| --- | --- | --- |"]
        lines += [f"| `{name}` | {own:.2f} | {calls:.4g} |" for name, own, calls in p["own"]]
    return lines
