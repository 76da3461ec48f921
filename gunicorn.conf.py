"""Gunicorn settings for production: `gunicorn -c gunicorn.conf.py main:app`.

Everything comes from the environment (and `.env`, read by config.py exactly as the app reads it):

    WEB_CONCURRENCY   worker processes (default 2; about one per CPU core)
    GUNICORN_THREADS  threads per worker (default 8): requests one worker serves at once
    GUNICORN_BIND     address(es) to listen on, comma separated (default 127.0.0.1:8000)
    PORT              when GUNICORN_BIND is unset: listen on 0.0.0.0:$PORT (the platform convention)
    TWILIO_TIMEOUT    seconds per call to Twilio; the worker timeout stays well above it
    TRUSTED_PROXIES   proxies in front of the app; only then are forwarded headers believed
    FORWARDED_ALLOW_IPS  with TRUSTED_PROXIES: the proxies' addresses (required then)
"""
import os

from gunicorn.glogging import Logger

from config import env, env_int

# Threaded workers: a request waiting on Twilio holds one thread, not a whole worker, so the
# login page stays fast while Twilio hangs. A worker keeps accepting connections while its
# threads are busy, so it needs spare threads beyond the requests that can wait on Twilio at once
# before the circuit breaker opens (TWILIO_BREAKER_FAILURES). Python runs one thread at a time
# per process, so more workers (WEB_CONCURRENCY, about one per core) add CPU; more threads add
# room to wait.
worker_class = "gthread"
workers = max(1, env_int("WEB_CONCURRENCY", 2))
threads = max(1, env_int("GUNICORN_THREADS", 8))

if env("GUNICORN_BIND"):
    bind = [address.strip() for address in env("GUNICORN_BIND").split(",") if address.strip()]
elif env("PORT"):
    bind = [f"0.0.0.0:{env_int('PORT', 8000)}"]
else:
    bind = ["127.0.0.1:8000"]

# A login may wait for Twilio twice (an SMS refused, then a call). A threaded worker's heartbeat
# does not stop while a thread waits, but a generous timeout also covers a worker started with
# `-k sync`, which must outlive that wait or be killed mid-request.
twilio_timeout = float(env("TWILIO_TIMEOUT", 5))
timeout = int(max(30, 3 * twilio_timeout))
graceful_timeout = timeout
keepalive = 5

# Access log on stdout without query strings or referrers (either may carry a `next=` URL or
# other data that doesn't belong in logs): method, path, protocol, status, size, time, agent.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s %(l)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'

# Headers a request may carry, and the size of one (gunicorn's defaults are 100 and 8190 bytes):
# a browser sends about 15 and a large cookie header stays well under 8 KB. Past these, gunicorn
# answers 400 before the app parses anything.
limit_request_fields = 50
limit_request_field_size = 8190

HEALTH_CHECKS = ("/healthz", "/readyz")


class QuietHealthChecksLogger(Logger):
    """The access log without load balancers' health checks (one every few seconds, per
    balancer, per instance: they would drown the requests of people)."""

    def access(self, resp, req, environ, request_time):
        if environ.get("PATH_INFO") not in HEALTH_CHECKS:
            super().access(resp, req, environ, request_time)


logger_class = QuietHealthChecksLogger

# Forwarded headers (X-Forwarded-Proto, ...) are believed only behind a declared proxy; the app
# applies TRUSTED_PROXIES hops of X-Forwarded-* itself (werkzeug ProxyFix).
if env_int("TRUSTED_PROXIES", 0) > 0:
    forwarded_allow_ips = env("FORWARDED_ALLOW_IPS")
    if not forwarded_allow_ips:
        # "*" would believe X-Forwarded-* from any peer that reaches the port directly.
        raise SystemExit("FORWARDED_ALLOW_IPS must name the proxies' addresses when TRUSTED_PROXIES is set.")
else:
    forwarded_allow_ips = ""

# Worker heartbeats on a RAM disk: a slow or full /tmp must not get healthy workers killed.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
