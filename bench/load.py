"""Load generators: raw GETs from worker processes, and people logging in with `requests` threads.

Everything here talks to 127.0.0.1 only, and every loop ends on a deadline or a count.
"""
import http.client
import re
import threading
import time
from multiprocessing import get_context

import requests

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PASSWORD = "bench password 1234"


class FlowError(Exception):
    """A step of a login answered something other than what a working app answers."""


# -- requests per second -------------------------------------------------------------------
def _hammer(port, path, deadline, results, lock):
    ok = errors = 0
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                ok += 1
            else:
                errors += 1
        except OSError:
            errors += 1
        finally:
            conn.close()
    with lock:
        results[0] += ok
        results[1] += errors


def _process_main(port, path, duration, threads, queue):
    results, lock = [0, 0], threading.Lock()
    deadline = time.monotonic() + duration
    workers = [threading.Thread(target=_hammer, args=(port, path, deadline, results, lock)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(duration + 30)
    queue.put(tuple(results))


def requests_per_second(port, path, duration, processes=2, threads=4):
    """GET `path` as fast as `processes` x `threads` connections allow for `duration` seconds.

    A new TCP connection per request, as gunicorn's sync workers close each one. The client runs
    in separate processes so that its own interpreter lock does not cap the figure.
    Returns (requests per second, errors).
    """
    context = get_context("spawn")
    queue = context.Queue()
    children = [context.Process(target=_process_main, args=(port, path, duration, threads, queue))
                for _ in range(processes)]
    for child in children:
        child.start()
    totals = [queue.get(timeout=duration + 60) for _ in children]
    for child in children:
        child.join(timeout=10)
    return sum(t[0] for t in totals) / duration, sum(t[1] for t in totals)


# -- people ------------------------------------------------------------------------------------
class Browser(requests.Session):
    """A `requests` session that, like a browser behind TLS, sends the app's Secure cookies.

    Production cookies are Secure (`__Host-session`) and the bench speaks plain HTTP on loopback,
    so each cookie loses its Secure flag once stored (requests copies the jar for every request,
    cookie policy and all, so a policy set on the jar would not survive).
    """

    def __init__(self):
        super().__init__()
        self.trust_env = False  # loopback only, whatever proxy the environment names

    def request(self, *args, **kwargs):
        response = super().request(*args, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return response


def browser():
    return Browser()


def _csrf(response):
    match = CSRF.search(response.text)
    if not match:
        raise FlowError(f"no CSRF token on {response.url} ({response.status_code})")
    return match.group(1)


def _expect(response, status, location=None):
    if response.status_code != status:
        raise FlowError(f"{response.request.method} {response.request.path_url}: {response.status_code}, "
                        f"expected {status}")
    if location is not None and not response.headers.get("Location", "").startswith(location):
        raise FlowError(f"{response.request.method} {response.request.path_url}: to "
                        f"{response.headers.get('Location')}, expected {location}")


class Timed:
    """Collects (start time, seconds) of each request made through it."""

    def __init__(self, session, base, samples):
        self.session, self.base, self.samples = session, base, samples

    def __call__(self, method, path, **kwargs):
        started = time.monotonic()
        response = self.session.request(method, self.base + path, allow_redirects=False, timeout=30, **kwargs)
        self.samples.append((started, time.monotonic() - started))
        return response


def login(base, user, fake, samples, full=False):
    """One 2FA login: the login page, the password (a code is sent), the code.

    With `full`, also the code page before the code, the profile after, and logging out: the
    whole visit of a person. Raises FlowError on any unexpected answer.
    """
    http = Timed(browser(), base, samples)
    token = _csrf(http("GET", "/auth/login"))
    response = http("POST", "/auth/login", data={
        "csrf_token": token, "username": user["username"], "password": PASSWORD, "next": ""})
    _expect(response, 302, "/auth/verify")
    if full:
        _expect(http("GET", "/auth/verify"), 200)
    try:
        code = fake.last_code(user["phone"])
    except KeyError as error:
        raise FlowError(f"no code was sent to {user['username']}") from error
    response = http("POST", "/auth/verify", data={"csrf_token": token, "code": code})
    _expect(response, 302, "/profile")
    if full:
        profile = http("GET", "/profile")
        _expect(profile, 200)
        _expect(http("POST", "/auth/logout", data={"csrf_token": _csrf(profile)}), 302, "/auth/login")
    http.session.close()


def run_people(base, users, fake, people, *, count=None, duration=None, full=False):
    """`people` threads log in, each with its own accounts, until `count` logins are done or
    `duration` seconds have passed (both bounds are honoured when given).

    Returns (logins done, errors, request samples, flow samples, elapsed seconds).
    """
    assert count or duration
    deadline = time.monotonic() + (duration if duration else 600)
    lock = threading.Lock()
    state = {"started": 0, "done": 0, "errors": []}
    request_samples, flow_samples = [], []
    accounts = [users[i::people] for i in range(people)]

    def take():
        with lock:
            if count is not None and state["started"] >= count:
                return False
            state["started"] += 1
            return True

    def person(mine):
        turn = 0
        while time.monotonic() < deadline and take():
            user = mine[turn % len(mine)]
            turn += 1
            started = time.monotonic()
            try:
                login(base, user, fake, request_samples, full=full)
            except (FlowError, requests.RequestException) as error:
                with lock:
                    state["errors"].append(f"{user['username']}: {error}")
                continue
            flow_samples.append((started, time.monotonic() - started))
            with lock:
                state["done"] += 1

    threads = [threading.Thread(target=person, args=(mine,), daemon=True) for mine in accounts]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic()) + 60)
    elapsed = time.monotonic() - started
    return state["done"], state["errors"], request_samples, flow_samples, elapsed
