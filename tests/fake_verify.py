"""A stateful in-process fake of the Twilio Verify v2 HTTP API.

The real ``twilio`` client is pointed at :attr:`FakeVerifyServer.base_url`
(scheme and host rewritten, path kept), so tests exercise the genuine client
code path -- request encoding, auth, error parsing, timeouts, keep-alive --
without network access. The fake keeps the same state the real service does
(code reuse, 10-minute expiry, send/check attempt limits) so retry and
lock-out logic in the app can be tested honestly.

It answers as Twilio's OpenAPI description of Verify v2 says (twilio/twilio-oai,
spec/json/twilio_verify_v2.json): the request fields of both endpoints with their
patterns, enums and required fields (a field the description does not list is
refused, where Twilio would ignore it: a misspelt ``Locale`` must not pass
silently), every channel the create request allows, a ``Locale`` outside the
documented list answered with 404 as Twilio's language page says, every
verification status reachable through :meth:`inject_status`, and the one error
the description documents for creating a verification, 429 / 20429 with
``Retry-After`` and ``Twilio-Reached-Rate-Limit`` (:meth:`rate_limit`).

``FakeVerifyServer(https=True)`` serves TLS with a self-signed certificate for
127.0.0.1 made at start; a client trusts it through :attr:`ca_file` (for
``requests``: ``REQUESTS_CA_BUNDLE``). Stdlib only, except ``cryptography`` for
that certificate.
"""

import base64
import datetime
import ipaddress
import json
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROUTE = re.compile(r"^/v2/Services/([^/]+)/(Verifications|VerificationCheck)$")
SERVICE_SID = re.compile(r"^VA[0-9a-fA-F]{32}$")

# The create request as the description has it: `To` and `Channel` required; `Channel` is
# "One of: email, sms, whatsapp, call, sna or auto".
CHANNELS = ("sms", "call", "email", "whatsapp", "sna", "auto")
SEND_FIELDS = {
    "To", "Channel", "CustomFriendlyName", "CustomMessage", "SendDigits", "Locale", "CustomCode",
    "Amount", "Payee", "RateLimits", "ChannelConfiguration", "AppHash", "TemplateSid",
    "TemplateCustomSubstitutions", "DeviceIp", "EnableSnaClientToken", "RiskCheck", "Tags",
}
SEND_PATTERNS = {"TemplateSid": re.compile(r"^HJ[0-9a-fA-F]{32}$")}
SEND_ENUMS = {"RiskCheck": {"enable", "disable"}, "EnableSnaClientToken": {"true", "false"}}
CHECK_FIELDS = {"Code", "To", "VerificationSid", "Amount", "Payee", "SnaClientToken"}
VERIFICATION_SID = re.compile(r"^VE[0-9a-fA-F]{32}$")
# The channel in an answer: the response enum has no "auto" (Verify picks one, here sms).
ANSWER_CHANNEL = {"auto": "sms"}
# `status` of a verification and of a check: "Can be: pending, approved, canceled,
# max_attempts_reached, deleted, failed or expired" (and nullable).
STATUSES = ("pending", "approved", "canceled", "max_attempts_reached", "deleted", "failed", "expired")
# Verify's language tag syntax: a language, optionally a region (`en`, `en-GB`, `pt-BR`, `zh-HK`).
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
RATE_LIMIT_RETRY_AFTER = "60"
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


def _error(status, code, message, headers=None, problem=False):
    if problem:  # RFC 9457 problem details, which twilio 9.x raises as TwilioServiceException
        payload = {"type": f"https://www.twilio.com/docs/errors/{code}", "title": message,
                   "status": status, "code": code, "detail": message}
    else:
        payload = {"code": code, "message": message, "status": status,
                   "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    reply = _Reply(status, payload)
    reply.headers = dict(headers or {})
    return reply


def _self_signed_certificate(directory):
    """A certificate and key for 127.0.0.1 and localhost, in `directory`; the certificate is its
    own authority, so a client that trusts the file (REQUESTS_CA_BUNDLE) accepts the server."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake Twilio Verify on 127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = Path(directory) / "fake-verify.pem", Path(directory) / "fake-verify.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


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

    def handle(self):
        # A slow start of each connection: over https, the TLS handshake waits for it too.
        fake = self.server.fake
        if fake.connection_delay and fake._stopping.wait(fake.connection_delay):
            return
        super().handle()

    def _handle(self):
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        path = urllib.parse.urlsplit(self.path).path
        status, body, headers = fake._dispatch(self.command, path, form, self.headers.get("Authorization"))
        if status is None:  # dropped: server stopping or reset during a hang
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class FakeVerifyServer:
    """Fake Verify v2 service; use as a context manager or start()/stop()."""

    def __init__(self, account_sid="AC" + "0" * 32, auth_token="test-auth-token",
                 service_sid="VA" + "0" * 32, https=False, locales=None):
        self.account_sid, self.auth_token, self.service_sid = account_sid, auth_token, service_sid
        self.https = https
        # The Locale values Verify accepts; None: any tag of the right shape.
        self.locales = set(locales) if locales is not None else None
        self.base_url = None
        self.ca_file = None  # with https: the certificate a client must trust
        self._cert_dir = None
        self.landline_numbers = set()
        self.blocked_numbers = {}
        self.connection_delay = 0.0  # seconds each new connection waits before it is served
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
        scheme = "http"
        if self.https:
            self._cert_dir = tempfile.mkdtemp(prefix="fake-verify-tls-")
            cert_file, key_file = _self_signed_certificate(self._cert_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            # The handshake happens in the handler's thread (on first read), not in accept().
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                      do_handshake_on_connect=False)
            self.ca_file = str(cert_file)
            scheme = "https"
        self.base_url = "%s://127.0.0.1:%d" % (scheme, self._server.server_address[1])
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
        if self._cert_dir:
            shutil.rmtree(self._cert_dir, ignore_errors=True)
            self._cert_dir = self.ca_file = None

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
            self._hang = 0.0
            self.sends, self.checks, self.requests = [], [], []
            self.connections_opened = 0
            self.landline_numbers = set()
            self.blocked_numbers = {}
            self.connection_delay = 0.0

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

    def inject(self, endpoint, status, code=None, message="Injected error", times=1, delay=0.0, body=None,
               headers=None, problem=False):
        """Answer the next ``times`` send/check requests with a canned failure.

        ``status`` 200 with no ``code``/``body`` only adds ``delay`` before normal
        processing (a slow or hanging Twilio); otherwise a Twilio-style error
        JSON (RFC 9457 problem details with ``problem=True``), or ``body``
        verbatim, is sent after ``delay``, with ``headers`` added.
        """
        self._add_injection(endpoint, {"status": status, "code": code, "message": message, "times": times,
                                       "delay": delay, "body": body, "headers": headers or {},
                                       "problem": problem})

    def inject_status(self, endpoint, status, times=1, http_status=None):
        """The switch for every status the description gives a verification: the next ``times``
        send/check requests are processed as usual but answer with ``status`` (any of STATUSES,
        None for a null status, or any other string), as HTTP ``http_status`` (default 201 for a
        send, 200 for a check; the description allows 200 and 201 for a check).

        A send answered with any status but ``pending`` delivers no code. A check answered with
        ``pending`` counts as a wrong code; with ``approved`` it uses the verification up; with
        any other it ends the verification (canceled, expired, deleted, too many attempts)."""
        self._add_injection(endpoint, {"answer_status": status, "http_status": http_status, "times": times,
                                       "delay": 0.0, "status": None})

    def rate_limit(self, endpoint="send", retry_after=RATE_LIMIT_RETRY_AFTER, times=1):
        """Twilio's own rate limit, as the description documents it for creating a verification:
        429, code 20429, with ``Retry-After`` (None: left out) and ``Twilio-Reached-Rate-Limit``."""
        headers = {"Twilio-Reached-Rate-Limit": "verify-create"}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        self.inject(endpoint, 429, code=20429, message="Too many requests", times=times, headers=headers)

    def hang(self, seconds):
        """Every request waits ``seconds`` before it is answered, until ``hang(0)`` or reset():
        Twilio in a brownout. Requests still waiting when it ends are answered normally."""
        with self._lock:
            self._hang = float(seconds)

    def _add_injection(self, endpoint, injection):
        if endpoint not in ("send", "check", "any"):
            raise ValueError(f"endpoint must be 'send', 'check' or 'any', not {endpoint!r}")
        with self._lock:
            self._injections.append({"endpoint": endpoint, **injection})

    # -- request processing --------------------------------------------------
    def _dispatch(self, method, path, form, authorization):
        """Return (status, body bytes, headers), or (None, None, None) to drop the connection."""
        route = ROUTE.match(path) if method == "POST" else None
        endpoint = {"Verifications": "send", "VerificationCheck": "check"}[route[2]] if route else None
        auth_ok = authorization == "Basic " + base64.b64encode(
            f"{self.account_sid}:{self.auth_token}".encode()).decode()
        with self._lock:
            self.requests.append({"method": method, "path": path, "form": form, "auth_ok": auth_ok})
            epoch, hang, injection = self._epoch, self._hang, self._take_injection(endpoint)
        headers = {}
        try:
            if hang and not self._wait_out_hang(hang, epoch):
                return None, None, None
            if injection and injection["delay"]:
                if self._stopping.wait(injection["delay"]) or epoch != self._epoch:
                    return None, None, None
            if injection and injection["status"] is not None:
                if injection["body"] is not None:
                    return injection["status"], injection["body"], injection["headers"]
                if injection["status"] >= 400 or injection["code"] is not None:
                    raise _error(injection["status"], injection["code"], injection["message"],
                                 injection["headers"], injection["problem"])
            if not auth_ok:
                raise _error(401, 20003, "Authenticate")
            if endpoint is None or route[1] != self.service_sid or not SERVICE_SID.match(route[1]):
                raise _error(404, 20404, f"The requested resource {path} was not found")
            answer = injection if injection and "answer_status" in injection else None
            with self._lock:
                if endpoint == "send":
                    status, payload = 201, self._send(form, answer)
                else:  # path[3:] drops "/v2", as in the real 404 message
                    status, payload = 200, self._check(form, path[3:], answer)
            if answer and answer["http_status"]:
                status = answer["http_status"]
        except _Reply as reply:
            status, payload, headers = reply.status, reply.payload, getattr(reply, "headers", {})
        return status, json.dumps(payload).encode(), headers

    def _wait_out_hang(self, seconds, epoch):
        """Sleeps `seconds`, or until hang(0); False when the server stops or is reset meanwhile."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self._hang:
            if self._stopping.wait(min(0.05, max(0.0, deadline - time.monotonic()))) or epoch != self._epoch:
                return False
        return epoch == self._epoch and not self._stopping.is_set()

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

    @staticmethod
    def _validate(form, allowed, patterns=None, enums=None):
        unknown = sorted(set(form) - allowed)
        if unknown:
            raise _error(400, 60200, "Unknown parameter: " + ", ".join(unknown))
        for name, pattern in (patterns or {}).items():
            if name in form and not pattern.match(form[name]):
                raise _error(400, 60200, f"Invalid parameter `{name}`: {form[name]}")
        for name, values in (enums or {}).items():
            if name in form and form[name] not in values:
                raise _error(400, 60200, f"Invalid parameter `{name}`: {form[name]}")

    def _send(self, form, answer=None):
        self._validate(form, SEND_FIELDS, SEND_PATTERNS, SEND_ENUMS)
        for name in ("To", "Channel"):
            if name not in form:
                raise _error(400, 60200, f"Missing required parameter {name} in the post body")
        to, channel, locale = form["To"], form["Channel"], form.get("Locale")
        if channel not in CHANNELS:
            raise _error(400, 60200, "Invalid parameter `Channel`: " + channel)
        if not (EMAIL if channel == "email" else E164).match(to):
            raise _error(400, 60200, "Invalid parameter `To`: " + to)
        if "CustomCode" in form and not 4 <= len(form["CustomCode"]) <= 10:
            raise _error(400, 60200, "Invalid parameter `CustomCode`")
        if locale is not None and not (LOCALE.match(locale) and (self.locales is None or locale in self.locales)):
            # "If an unsupported override locale is given, a 404 error will be returned."
            raise _error(404, 20404, f"Locale {locale!r} is not supported")
        if to in self.blocked_numbers:
            code = self.blocked_numbers[to]
            raise _error(403, code, BLOCK_MESSAGES.get(code, "Verification delivery blocked"))
        if channel == "sms" and to in self.landline_numbers:
            raise _error(400, 60205, "SMS is not supported by landline phone number")
        status = answer["answer_status"] if answer else "pending"
        answered_channel = ANSWER_CHANNEL.get(channel, channel)
        v = self._live(to)
        if status != "pending":  # reported, not delivered: no code goes out
            sid = v.sid if v else "VE" + secrets.token_hex(16)
            return {"sid": sid, "service_sid": self.service_sid, "account_sid": self.account_sid, "to": to,
                    "channel": answered_channel, "status": status, "valid": False, "lookup": {},
                    "amount": None, "payee": None, "send_code_attempts": [], "sna": None,
                    "date_created": _iso(self.now()), "date_updated": _iso(self.now())}
        if v is None or v.locked:
            v = _Verification("VE" + secrets.token_hex(16), to, answered_channel,
                              "%06d" % secrets.randbelow(10**6), self.now())
            self._verifications[to] = v
        elif len(v.attempts) >= MAX_SENDS:
            raise _error(429, 60203, "Max send attempts reached")
        v.channel = answered_channel
        v.attempts.append({"time": _iso(self.now()), "channel": answered_channel,
                           "attempt_sid": "VL" + secrets.token_hex(16)})
        self.sends.append({"to": to, "channel": channel, "code": v.code, "sid": v.sid, "locale": locale})
        return {**self._common(v), "status": "pending", "valid": False, "lookup": {},
                "send_code_attempts": list(v.attempts),
                "sna": {"url": "https://mi.example/sna"} if channel == "sna" else None,
                "url": f"https://verify.twilio.com/v2/Services/{self.service_sid}/Verifications/{v.sid}"}

    def _check(self, form, resource, answer=None):
        self._validate(form, CHECK_FIELDS, {"VerificationSid": VERIFICATION_SID})
        to, code, sid = form.get("To"), form.get("Code"), form.get("VerificationSid")
        if sid and not to:
            to = next((v.to for v in self._verifications.values() if v.sid == sid), None)
        try:
            if not code:
                raise _error(400, 60200, "Invalid parameter: Code")
            if not 4 <= len(code) <= 10:  # "The 4-10 character string being verified."
                raise _error(400, 60200, "Invalid parameter: Code")
            if not (to or sid):
                raise _error(400, 60200, "Either To or VerificationSid must be specified")
            v = self._live(to) if to else None
            if answer:
                return self._answer_check(v, to, code, answer["answer_status"])
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

    def _answer_check(self, v, to, code, status):
        """A check answered with an injected status, the verification's state changed to match."""
        if v is not None:
            if status == "pending":
                v.wrong_checks += 1
            else:
                del self._verifications[v.to]
        self.checks.append({"to": to, "code": code, "status": status})
        now = _iso(self.now())
        return {"sid": v.sid if v else "VE" + secrets.token_hex(16), "service_sid": self.service_sid,
                "account_sid": self.account_sid, "to": to, "channel": v.channel if v else "sms",
                "status": status, "valid": status == "approved", "amount": None, "payee": None,
                "date_created": now, "date_updated": now, "sna_attempts_error_codes": []}
