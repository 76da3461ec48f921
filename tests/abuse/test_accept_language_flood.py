"""Security review row 6, "Accept-Language parsed whole": a request with 90 Accept-Language
headers of 8 KB each made the app parse the whole language list (phones.default_country,
locales.request_locale), about 5 ms of a worker's CPU per request. gunicorn now refuses so many
header fields itself (limit_request_fields, limit_request_field_size in gunicorn.conf.py) with a
400 or 431, before the app sees the request. (The app's own cap on what it parses of one header is
tested in tests/test_accept_language.py.)"""
import select
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.abuse.conftest import APP_PAGE, sign_up

pytestmark = pytest.mark.live

HEADERS = 90
HEADER_BYTES = 8000  # each one under gunicorn's default limit_request_field_size (8190)


def languages(size):
    """An Accept-Language value of `size` characters: language tags with qualities."""
    entry = "x-aa;q=0.1, "
    return (entry * (size // len(entry) + 1))[:size - len("es-ES")] + "es-ES"


def send_raw(url, path, header_lines, deadline=30):
    """GETs `path` with the given header lines, sent as they are (repeats included), and stops
    sending as soon as the server answers or closes. Returns (status or None, body, seconds)."""
    parts = urlsplit(url)
    started = time.monotonic()
    request = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
               + "".join(f"{line}\r\n" for line in header_lines) + "\r\n").encode("latin-1")
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=deadline) as sock:
        view = memoryview(request)
        try:
            while view:
                assert time.monotonic() - started < deadline, f"still sending after {deadline} s"
                readable, writable, _ = select.select([sock], [sock], [], 5)
                if readable:
                    break  # the server answered (or closed) before reading it all
                if writable:
                    view = view[sock.send(view):]
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                received += data
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
    seconds = time.monotonic() - started
    head, _, body = received.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    status = int(status_line.split()[1]) if status_line.startswith("HTTP/1.") else None
    return status, body.decode("utf-8", "replace"), seconds


def test_ninety_accept_language_headers_are_refused_by_gunicorn(live_app, figure):
    browser = live_app.visitor()
    sign_up(live_app, browser)  # logged in, as the attack was
    cookies = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    user_agent = browser.user_agent or requests.utils.default_user_agent()  # the session is bound to it
    flood = [f"Accept-Language: {languages(HEADER_BYTES)}"] * HEADERS

    status, body, seconds = send_raw(live_app.url, "/profile/2fa/enable",
                                     [f"Cookie: {cookies}", f"User-Agent: {user_agent}",
                                      f"X-Forwarded-For: {browser.address}", *flood])

    figure(f"{HEADERS} Accept-Language headers of {HEADER_BYTES} bytes (status, seconds)",
           (status, round(seconds, 3)))
    assert status in (400, 431), (
        f"{HEADERS} Accept-Language headers of {HEADER_BYTES} bytes on /profile/2fa/enable: answered "
        f"{status} after {seconds:.3f} s, not refused by gunicorn (limit_request_fields)")
    assert APP_PAGE not in body, "refused by the app, after it read every header, not by gunicorn"
    # The worker serves on.
    assert browser.get(live_app.url + "/auth/login").status_code in (200, 302)
