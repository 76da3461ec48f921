"""Issue 9, "no body limit" and "500s on PostgreSQL": a body over the limit is refused with 413
and the app's own page before it is read; control characters in a username are a form error; a
session cookie of the wrong shape is simply anonymous; an out-of-range id in a URL is a 404; no
page answers with an empty 500."""
import itertools
import select
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.abuse.conftest import (
    APP_PAGE,
    assert_app_page,
    is_logged_in,
    log_in,
    new_username,
    sign_up,
)
from tests.conftest import PASSWORD
from tests.support import SESSION_COOKIE, Visitor

pytestmark = pytest.mark.live

MB = 1024 * 1024
CHUNK = 256 * 1024
QUICKLY = 10  # seconds for the 413 to come back
MEMORY_SLACK_KIB = 8 * 1024  # a worker may grow by a few MB, never by the body's size


class StreamedAnswer:
    def __init__(self, status, headers, body, sent, seconds):
        self.status_code, self.headers, self.text = status, headers, body
        self.sent, self.seconds = sent, seconds


def form_body(total):
    """`username=aaa...`, `total` bytes in all, made chunk by chunk."""
    yield b"username="
    left = total - len("username=")
    while left > 0:
        size = min(CHUNK, left)
        yield b"a" * size
        left -= size


def post_streamed(url, path, total, address, chunked, deadline=120):
    """POSTs a urlencoded body of `total` bytes, never held whole, with a Content-Length or in
    chunks (as a client streaming from a generator does), and stops sending as soon as the
    server answers. Returns the answer, how much was sent, and how long it took."""
    parts = urlsplit(url)
    started = time.monotonic()
    sock = socket.create_connection((parts.hostname, parts.port), timeout=deadline)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = (f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n"
            f"X-Forwarded-For: {address}\r\nConnection: close\r\n\r\n")
    sock.sendall(head.encode())
    pieces = (b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in form_body(total)) if chunked else form_body(total)
    trailer = [b"0\r\n\r\n"] if chunked else []

    sent, received = 0, b""
    try:
        for piece in itertools.chain(pieces, trailer):
            view = memoryview(piece)
            while view:
                assert time.monotonic() - started < deadline, f"still sending after {deadline} s ({sent // MB} MB)"
                readable, writable, _ = select.select([sock], [sock], [], 5)
                if readable:
                    raise StopIteration  # the server answered before the whole body arrived
                if writable:
                    count = sock.send(view)
                    sent += count
                    view = view[count:]
    except (StopIteration, BrokenPipeError, ConnectionResetError):
        pass
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    except (ConnectionResetError, TimeoutError):
        pass
    finally:
        sock.close()
    seconds = time.monotonic() - started
    head_bytes, _, body_bytes = received.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), f"no answer after sending {sent // MB} MB: {received[:200]!r}"
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return StreamedAnswer(int(lines[0].split()[1]), headers, body_bytes.decode("utf-8", "replace"), sent, seconds)


def warm(live, visitor):
    """A few pages on every worker, so their memory is what serving costs, not start-up."""
    for _ in range(20):
        assert visitor.get(live.url + "/auth/login").status_code == 200


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("size_mb", [20, 300])
def test_oversized_login_body_is_refused_before_it_is_read(live_app, size_mb, chunked, figure):
    visitor = live_app.visitor()
    warm(live_app, visitor)
    live_app.reset_memory_peaks()
    before = live_app.worker_memory_kib("VmRSS")

    answer = post_streamed(live_app.url, "/auth/login", size_mb * MB, visitor.address, chunked)

    peaks = live_app.worker_memory_kib("VmHWM")
    growth_mb = max(peaks[pid] - before.get(pid, peaks[pid]) for pid in peaks) // 1024
    figure("answer", f"{answer.status_code} after {answer.seconds:.2f} s, {answer.sent // MB} MB sent, worker peak +{growth_mb} MB")
    assert answer.status_code == 413, (
        f"a {size_mb} MB login body: {answer.status_code} after {answer.seconds:.1f} s, {answer.sent // MB} MB "
        f"sent, worker memory peaked {growth_mb} MB higher")
    assert APP_PAGE in answer.text
    assert answer.seconds < QUICKLY, f"the 413 took {answer.seconds:.1f} s"
    assert growth_mb * 1024 < MEMORY_SLACK_KIB, f"worker memory peaked {growth_mb} MB higher"
    assert_app_page(visitor.get(live_app.url + "/auth/login"), 200)  # and the worker serves on


CONTROL_CHARACTERS = ["\x00", "\x08", "\x1b", "\x7f"]


@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=["nul", "backspace", "escape", "delete"])
def test_control_character_in_login_username_is_a_form_error(live_app, char):
    visitor = live_app.visitor()
    response = log_in(live_app, visitor, f"ali{char}ce")
    assert_app_page(response, 400)
    assert 'name="username"' in response.text  # the form again, to correct
    assert not is_logged_in(live_app, visitor)


@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=["nul", "backspace", "escape", "delete"])
def test_control_character_in_signup_username_is_a_form_error(live_app, char):
    visitor = live_app.visitor()
    response = visitor.post_form(live_app.url + "/auth/register",
                                 {"username": f"bob{char}by", "password": PASSWORD, "password2": PASSWORD})
    assert_app_page(response, 400)
    assert 'name="username"' in response.text
    assert not is_logged_in(live_app, visitor)


@pytest.mark.parametrize("cookie", [
    '"abc\\000def"',  # a quoted cookie value whose octal escape decodes to a NUL
    '"\\000"',
    "x" * 3000,
    "%00%00",
], ids=["nul-inside", "nul-only", "long", "percent-nul"])
def test_session_cookie_of_the_wrong_shape_is_anonymous(live_app, cookie):
    visitor = live_app.visitor()
    header = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    response = visitor.get(live_app.url + "/profile", headers=header)
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login"), (
        response.status_code, response.text[:300])
    assert_app_page(visitor.get(live_app.url + "/auth/login", headers=header), 200)
    assert_app_page(visitor.get(live_app.url + "/no-such-page", headers=header), 404)


@pytest.mark.parametrize("device_id", [2**31, 2**63], ids=["2^31", "2^63"])
def test_out_of_range_device_id_is_not_found(live_app, device_id):
    visitor = live_app.visitor()
    sign_up(live_app, visitor, new_username())
    response = visitor.post_form(live_app.url + f"/profile/devices/{device_id}/forget", {},
                                 form_url=live_app.url + "/profile")
    assert_app_page(response, 404)
    assert is_logged_in(live_app, visitor)


def test_error_pages_render_without_a_session(live_app):
    """A request whose session can't be opened still gets the app's page, never an empty 500."""
    visitor = Visitor(live_app.visitor().address)
    for path in ("/no-such-page", "/profile/devices/1/forget"):
        response = visitor.get(live_app.url + path, headers={"Cookie": f'{SESSION_COOKIE}="\\000"'})
        assert response.status_code in (404, 405), response.status_code
        assert_app_page(response)
