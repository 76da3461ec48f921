"""Health checks for load balancers and orchestrators.

    GET /healthz  200 {"status": "ok"}: the process answers. Touches nothing else.
    GET /readyz   200 when the database, and Redis when configured, answer; 503 otherwise.
                  The body names each check, and the Twilio circuit breaker's state, which is
                  reported but never makes the app unready (a login without Twilio still works
                  for people without 2FA, and recovery codes work for everyone).

They are answered in front of the Flask app, so no session is opened or stored, no CSRF or
rate limit applies, and neither the HTTPS redirect nor a trusted-hosts check turns away a
balancer that probes over plain http by address. The gunicorn access log leaves them out
(gunicorn.conf.py), and a failing check is logged when readiness changes, not on every probe.
"""
import json
import logging

import sqlalchemy as sa

from app.extensions import db

log = logging.getLogger(__name__)

LIVENESS, READINESS = "/healthz", "/readyz"


def init_app(app):
    app.wsgi_app = HealthChecks(app, app.wsgi_app)


class HealthChecks:
    """WSGI middleware answering /healthz and /readyz; everything else goes to the app."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self._redis_clients = {}
        self._was_ready = True

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path not in (LIVENESS, READINESS):
            return self.wsgi_app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return self._answer(start_response, 405, {"status": "method not allowed"}, method,
                                [("Allow", "GET, HEAD")])
        if path == LIVENESS:
            return self._answer(start_response, 200, {"status": "ok"}, method)
        ready, body = self.readiness()
        return self._answer(start_response, 200 if ready else 503, body, method)

    @staticmethod
    def _answer(start_response, status, body, method, extra_headers=()):
        payload = json.dumps(body).encode()
        reason = {200: "OK", 405: "METHOD NOT ALLOWED", 503: "SERVICE UNAVAILABLE"}[status]
        start_response(f"{status} {reason}", [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("Cache-Control", "no-store"),
            *extra_headers,
        ])
        return [] if method == "HEAD" else [payload]

    def readiness(self):
        """(ready, body): the database and each configured Redis, and the breaker's state."""
        with self.app.app_context():
            checks = {"database": self._check_database()}
            redis_urls = self._redis_urls()
            if redis_urls:
                checks["redis"] = "ok" if all(self._ping(url) for url in redis_urls) else "unreachable"
            else:
                checks["redis"] = "not configured"
            breaker = self.app.extensions.get("twilio_breaker")
            twilio = breaker.status() if breaker is not None else {"state": "not used"}
        ready = all(value in ("ok", "not configured") for value in checks.values())
        if ready != self._was_ready:
            self._was_ready = ready
            log.log(logging.INFO if ready else logging.WARNING, "readiness: %s %s",
                    "ready" if ready else "not ready", checks)
        return ready, {"status": "ready" if ready else "not ready", **checks, "twilio_breaker": twilio}

    @staticmethod
    def _check_database():
        try:
            with db.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return "ok"
        except Exception:  # any failure to answer means "not ready", never a 500
            return "unreachable"

    def _redis_urls(self):
        config = self.app.config
        urls = [config.get("RATELIMIT_STORAGE_URI") or "", config.get("SESSION_REDIS_URL") or ""]
        return sorted({url for url in urls if url.startswith(("redis://", "rediss://"))})

    def _ping(self, url):
        if url not in self._redis_clients:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            self._redis_clients[url] = redis.Redis.from_url(
                url, socket_timeout=1.0, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 0)
            )
        try:
            return bool(self._redis_clients[url].ping())
        except Exception:
            return False
