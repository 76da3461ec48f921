"""Static text files go out compressed (issue "Languages" part 5, Lighthouse): brotli, else gzip,
as the browser accepts; each answer says so (Content-Encoding) and varies by Accept-Encoding; the
caching rules of tests/test_assets.py still hold; pages are never compressed (BREACH). Also the
favicon and the meta description that Lighthouse asks for."""
import gzip
import hashlib
import re
from pathlib import Path

import brotli
import pytest

from tests.test_assets import YEAR, file_of, linked_assets

BROWSER = "gzip, deflate, br, zstd"


def stylesheet(client):
    return next((path, version) for path, version in linked_assets(client) if path.endswith("bootstrap.min.css"))


def get(client, url, encodings=BROWSER, **headers):
    if encodings is not None:
        headers["Accept-Encoding"] = encodings
    response = client.get(url, headers=headers)
    body = response.get_data()
    response.close()
    return response, body


def decoded(response, body):
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        return brotli.decompress(body)
    if encoding == "gzip":
        return gzip.decompress(body)
    assert encoding is None, encoding
    return body


@pytest.mark.parametrize(("encodings", "expected"), [
    (BROWSER, "br"),
    ("gzip, deflate", "gzip"),
    ("br;q=0.5, gzip", "gzip"),
    ("br, gzip;q=0.9", "br"),
    ("*", "br"),
    ("gzip;q=0, br;q=0", None),
    ("identity", None),
    ("deflate", None),
    (None, None),
])
def test_each_linked_text_file_in_the_encoding_the_browser_prefers(app, client, encodings, expected):
    for path, version in linked_assets(client):
        if path.endswith(".ico"):
            continue
        response, body = get(client, f"{path}?v={version}", encodings)
        original = file_of(app, path).read_bytes()
        assert response.status_code == 200
        assert response.headers.get("Content-Encoding") == expected, (path, response.headers)
        assert "Accept-Encoding" in response.vary, (path, response.headers)
        assert int(response.headers["Content-Length"]) == len(body)
        assert decoded(response, body) == original
        if expected:
            assert len(body) < len(original) and "Accept-Ranges" not in response.headers
        # The caching rules are the same whatever the encoding.
        assert response.cache_control.max_age == YEAR and response.cache_control.immutable


def test_bootstraps_stylesheet_shrinks_to_a_seventh(client):
    path, version = stylesheet(client)
    sizes = {}
    for encodings in ("identity", "gzip", "br"):
        response, body = get(client, f"{path}?v={version}", encodings)
        sizes[encodings] = len(body)
    assert sizes["identity"] > 200_000
    assert sizes["gzip"] < sizes["identity"] / 7 and sizes["br"] < sizes["gzip"], sizes


def test_a_link_without_the_hash_is_compressed_and_still_revalidated(client):
    path, _ = stylesheet(client)
    response, _ = get(client, path)
    assert response.headers["Content-Encoding"] == "br"
    assert response.cache_control.no_cache and not response.cache_control.max_age


def test_a_cached_copy_is_revalidated_whatever_its_encoding(client):
    """One weak ETag for every encoding of a file: a browser's copy in gzip is still good when it
    next asks accepting brotli (304, nothing sent again)."""
    path, _ = stylesheet(client)
    first, _ = get(client, path, "gzip")
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    for encodings in ("gzip", "br", "identity"):
        again, body = get(client, path, encodings, **{"If-None-Match": etag})
        assert again.status_code == 304 and body == b"", encodings
        assert "Accept-Encoding" in again.vary and again.headers["ETag"] == etag
    changed, body = get(client, path, "br", **{"If-None-Match": 'W/"something-else"'})
    assert changed.status_code == 200 and changed.headers["Content-Encoding"] == "br"


def test_a_range_request_gets_the_file_as_it_is(app, client):
    path, version = stylesheet(client)
    response, body = get(client, f"{path}?v={version}", BROWSER, Range="bytes=0-99")
    assert response.status_code == 206 and "Content-Encoding" not in response.headers
    assert body == file_of(app, path).read_bytes()[:100]


def test_head_says_the_compressed_length(client):
    path, version = stylesheet(client)
    full, body = get(client, f"{path}?v={version}")
    head = client.head(f"{path}?v={version}", headers={"Accept-Encoding": BROWSER})
    assert head.status_code == 200 and head.headers["Content-Encoding"] == "br"
    assert head.headers["Content-Length"] == str(len(body)) and head.get_data() == b""


def test_a_file_is_compressed_once_per_process(client, monkeypatch):
    from app import assets

    path, version = stylesheet(client)
    calls = []
    original = assets._compress
    monkeypatch.setattr(assets, "_compress", lambda data, encoding: calls.append(encoding) or original(data, encoding))
    assets._compressed.clear()
    for _ in range(3):
        for encodings in ("br", "gzip"):
            get(client, f"{path}?v={version}", encodings)
    assert calls == ["br", "gzip"]


def test_pages_are_never_compressed(client, auth):
    """A page holds a CSRF token beside what was typed: compressed, its size would leak the token
    to whoever can watch sizes and make the browser send guesses (BREACH)."""
    for url in ("/auth/login", "/auth/register", "/no-such-page"):
        response = client.get(url, headers={"Accept-Encoding": BROWSER})
        assert "Content-Encoding" not in response.headers, url
    auth.register()
    assert "Content-Encoding" not in client.get("/profile", headers={"Accept-Encoding": BROWSER}).headers


def test_the_images_app_css_draws_with_are_linked_by_their_hash(app, client):
    """Bootstrap's data: images (refused by the CSP) are replaced in app.css by files of our own,
    each with its current hash, so they are cached for a year like every other asset."""
    css = (Path(app.static_folder) / "app.css").read_text()
    urls = set(re.findall(r'url\("([^"]+)"\)', css))
    assert {url.split("?")[0] for url in urls} == {"icons/select.svg", "icons/check.svg", "icons/radio.svg",
                                                   "icons/invalid.svg"}
    for url in urls:
        name, version = re.fullmatch(r"([\w/.-]+)\?v=([0-9a-f]{12})", url).groups()
        data = (Path(app.static_folder) / name).read_bytes()
        assert version == hashlib.sha256(data).hexdigest()[:12], f"app.css links {name} with an old hash"
        response, body = get(client, f"/static/{name}?v={version}")
        assert response.status_code == 200 and response.mimetype == "image/svg+xml" and decoded(response, body) == data
        assert response.cache_control.max_age == YEAR
    assert "url(\"data:" not in css and "url(data:" not in css


# -- Lighthouse's other findings: the favicon and the meta description ---------------------------

def test_the_favicon_is_served(app, client):
    response, body = get(client, "/favicon.ico")
    assert response.status_code == 200 and response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert body[:4] == b"\x00\x00\x01\x00" and body == file_of(app, "/static/favicon.ico").read_bytes()
    html = client.get("/auth/login").get_data(as_text=True)
    icons = re.findall(r'<link rel="icon" href="(/static/favicon\.(?:svg|ico)\?v=[0-9a-f]{12})"', html)
    assert len(icons) == 2
    for icon in icons:
        response, body = get(client, icon)
        assert response.status_code == 200 and response.mimetype.startswith("image/")
        assert response.cache_control.max_age == YEAR
    svg, body = get(client, next(icon for icon in icons if ".svg" in icon), "identity")
    assert svg.mimetype == "image/svg+xml" and body.startswith(b"<svg")


@pytest.mark.parametrize("url", ["/auth/login", "/auth/register", "/profile", "/no-such-page"])
def test_every_page_has_a_meta_description(client, auth, url):
    if url == "/profile":
        auth.register()
    html = client.get(url).get_data(as_text=True)
    found = re.findall(r'<meta name="description" content="([^"]+)">', html)
    assert len(found) == 1 and len(found[0]) > 50, found
