"""A stateful in-process fake of the Twilio Verify v2 HTTP API.

The real ``twilio`` client is pointed at :attr:`FakeVerifyServer.base_url`
(scheme and host rewritten, path kept), so tests exercise the genuine client
code path -- request encoding, auth, error parsing, timeouts, keep-alive --
without network access. The fake keeps the same state the real service does
(code reuse, 10-minute expiry, send/check attempt limits) so retry and
lock-out logic in the app can be tested honestly. Stdlib only.
"""

import base64
import json
import re
import secrets
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ROUTE = re.compile(r"^/v2/Services/([^/]+)/(Verifications|VerificationCheck)$")
CHANNELS = {"sms", "call", "whatsapp", "email"}
TTL = 600  # seconds a verification stays valid, as in the real service
MAX_SENDS = 5
MAX_WRONG_CHECKS = 5
BLOCK_MESSAGES = {
    60410: "Verification delivery attempt was blocked",
    60605: "Verification delivery to this country is not allowed",
}


class NoPendingVerification(AssertionError, KeyError):
    """Raised by ``last_code``; an AssertionError for readable test failures,
    a KeyError for callers that treat the fake like a mapping."""

    __str__ = BaseException.__str__


class _Reply(Exception):
    """Short-circuits request handling with a finished (status, payload)."""

    def __init__(self, status, payload):
        super().__init__(status)
        self.status, self.payload = status, payload


def _error(status, code, message):
    return _Reply(status, {"code": code, "message": message, "status": status,
                           "more_info": f"https://www.twilio.com/docs/errors/{code}"})


def _iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass
class _Verification:
    sid: str
    to: str
    channel: str
    code: str
    created: float
    attempts: list = field(default_factory=list)
    wrong_checks: int = 0

    @property
    def locked(self):
        return self.wrong_checks >= MAX_WRONG_CHECKS


class _Server(ThreadingHTTPServer):
    """Counts accepted connections and remembers open ones so ``stop()`` can
    cut idle keep-alive connections instead of leaving handler threads behind."""

    daemon_threads = True
    allow_reuse_address = True

    def process_request(self, request, client_address):
        with self.fake._lock:
            self.fake.connections_opened += 1
            self.fake._sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.fake._lock:
            self.fake._sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        """Clients hanging up mid-answer (timeouts) are expected; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like api.twilio.com
    disable_nagle_algorithm = True  # avoid 40 ms delayed-ACK stalls per request
    timeout = 30

    def log_message(self, format, *args):
        """Silence per-request logging on stderr."""

    def _handle(self):
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        path = urllib.parse.urlsplit(self.path).path
        status, body = fake._dispatch(self.command, path, form, self.headers.get("Authorization"))
        if status is None:  # dropped: server stopping or reset during a hang
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class FakeVerifyServer:
    """Fake Verify v2 service; use as a context manager or start()/stop()."""

    def __init__(self, account_sid="AC" + "0" * 32, auth_token="test-auth-token",
                 service_sid="VA" + "0" * 32):
        self.account_sid, self.auth_token, self.service_sid = account_sid, auth_token, service_sid
        self.base_url = None
        self.landline_numbers = set()
        self.blocked_numbers = {}
        self._lock = threading.Lock()
        self._sockets = set()
        self._stopping = threading.Event()
        self._server = self._thread = None
        self.reset()

    # -- lifecycle -----------------------------------------------------------
    def start(self):
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.base_url = "http://127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop promptly: wake injected hangs, cut idle keep-alive sockets."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            for sock in list(self._sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # handler thread then closes it
                except OSError:
                    pass
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def reset(self):
        """Forget all state. Requests still sleeping in an injected delay are
        dropped when they wake, so they cannot leak into the next test."""
        with self._lock:
            self._verifications = {}  # To -> _Verification (at most one per number)
            self._injections = []
            self._offset = 0.0
            self._epoch = getattr(self, "_epoch", 0) + 1
            self.sends, self.checks, self.requests = [], [], []
            self.connections_opened = 0
            self.landline_numbers = set()
            self.blocked_numbers = {}

    # -- clock ---------------------------------------------------------------
    def now(self):
        return time.time() + self._offset

    def advance(self, seconds):
        """Move the fake clock forward, e.g. past the 600 s expiry."""
        with self._lock:
            self._offset += seconds

    # -- test helpers --------------------------------------------------------
    def last_code(self, to):
        """The code a user would have received for ``to`` (live verification only)."""
        with self._lock:
            v = self._live(to)
            if v is None:
                raise NoPendingVerification(f"no pending verification for {to!r}; sends so far: {self.sends}")
            return v.code

    def inject(self, endpoint, status, code=None, message="Injected error", times=1, delay=0.0, body=None):
        """Answer the next ``times`` send/check requests with a canned failure.

        ``status`` 200 with no ``code``/``body`` only adds ``delay`` before normal
        processing (a slow or hanging Twilio); otherwise a Twilio-style error
        JSON, or ``body`` verbatim, is sent after ``delay``.
        """
        if endpoint not in ("send", "check", "any"):
            raise ValueError(f"endpoint must be 'send', 'check' or 'any', not {endpoint!r}")
        with self._lock:
            self._injections.append({"endpoint": endpoint, "status": status, "code": code,
                                     "message": message, "times": times, "delay": delay, "body": body})

    # -- request processing --------------------------------------------------
    def _dispatch(self, method, path, form, authorization):
        """Return (status, body bytes), or (None, None) to drop the connection."""
        route = ROUTE.match(path) if method == "POST" else None
        endpoint = {"Verifications": "send", "VerificationCheck": "check"}[route[2]] if route else None
        auth_ok = authorization == "Basic " + base64.b64encode(
            f"{self.account_sid}:{self.auth_token}".encode()).decode()
        with self._lock:
            self.requests.append({"method": method, "path": path, "form": form, "auth_ok": auth_ok})
            epoch, injection = self._epoch, self._take_injection(endpoint)
        try:
            if injection:
                if self._stopping.wait(injection["delay"]) or epoch != self._epoch:
                    return None, None
                if injection["body"] is not None:
                    return injection["status"], injection["body"]
                if injection["status"] >= 400 or injection["code"] is not None:
                    raise _error(injection["status"], injection["code"], injection["message"])
            if not auth_ok:
                raise _error(401, 20003, "Authenticate")
            if endpoint is None or route[1] != self.service_sid:
                raise _error(404, 20404, f"The requested resource {path} was not found")
            with self._lock:
                if endpoint == "send":
                    status, payload = 201, self._send(form)
                else:  # path[3:] drops "/v2", as in the real 404 message
                    status, payload = 200, self._check(form, path[3:])
        except _Reply as reply:
            status, payload = reply.status, reply.payload
        return status, json.dumps(payload).encode()

    def _take_injection(self, endpoint):
        for inj in self._injections if endpoint else ():
            if inj["endpoint"] in (endpoint, "any"):
                inj["times"] -= 1
                if inj["times"] <= 0:
                    self._injections.remove(inj)
                return inj
        return None

    def _live(self, to):
        """The number's verification if still usable; expired ones are dropped."""
        v = self._verifications.get(to)
        if v is not None and self.now() >= v.created + TTL:
            del self._verifications[to]
            v = None
        return v

    def _common(self, v):
        return {"sid": v.sid, "service_sid": self.service_sid, "account_sid": self.account_sid,
                "to": v.to, "channel": v.channel, "amount": None, "payee": None,
                "date_created": _iso(v.created), "date_updated": _iso(self.now())}

    def _send(self, form):
        to, channel = form.get("To", ""), form.get("Channel", "")
        if not E164.match(to):
            raise _error(400, 60200, "Invalid parameter `To`: " + to)
        if channel not in CHANNELS:
            raise _error(400, 60200, "Invalid parameter `Channel`: " + channel)
        if to in self.blocked_numbers:
            code = self.blocked_numbers[to]
            raise _error(403, code, BLOCK_MESSAGES.get(code, "Verification delivery blocked"))
        if channel == "sms" and to in self.landline_numbers:
            raise _error(400, 60205, "SMS is not supported by landline phone number")
        v = self._live(to)
        if v is None or v.locked:
            v = _Verification("VE" + secrets.token_hex(16), to, channel,
                              "%06d" % secrets.randbelow(10**6), self.now())
            self._verifications[to] = v
        elif len(v.attempts) >= MAX_SENDS:
            raise _error(429, 60203, "Max send attempts reached")
        v.channel = channel
        v.attempts.append({"time": _iso(self.now()), "channel": channel,
                           "attempt_sid": "VL" + secrets.token_hex(16)})
        self.sends.append({"to": to, "channel": channel, "code": v.code, "sid": v.sid})
        return {**self._common(v), "status": "pending", "valid": False, "lookup": {},
                "send_code_attempts": list(v.attempts), "sna": None,
                "url": f"https://verify.twilio.com/v2/Services/{self.service_sid}/Verifications/{v.sid}"}

    def _check(self, form, resource):
        to, code, sid = form.get("To"), form.get("Code"), form.get("VerificationSid")
        if sid and not to:
            to = next((v.to for v in self._verifications.values() if v.sid == sid), None)
        try:
            if not code:
                raise _error(400, 60200, "Invalid parameter: Code")
            v = self._live(to) if to else None
            if v is None or (sid and v.sid != sid):
                raise _error(404, 20404, f"The requested resource {resource} was not found")
            if v.locked:
                del self._verifications[to]
                raise _error(429, 60202, "Max check attempts reached")
        except _Reply as reply:
            self.checks.append({"to": to, "code": code, "status": reply.status})
            raise
        approved = code == v.code
        if approved:
            del self._verifications[to]
        else:
            v.wrong_checks += 1
        status = "approved" if approved else "pending"
        self.checks.append({"to": to, "code": code, "status": status})
        return {**self._common(v), "status": status, "valid": approved, "sna_attempts_error_codes": []}
