"""Static files linked with their content's hash, and cached for a year when so asked for.

`asset_url` gives e.g. `/static/app.css?v=3f2a9c1b7d4e`: the URL changes whenever the file does,
so a browser may keep what it fetched for a year and ask for nothing on the next page (on a slow
mobile line that is a round trip saved per file; for the server, a request). A request without
the current hash (an old page, a hand-typed URL) is answered as before, revalidated every time,
so a release is never hidden behind an old copy. URLs and hashes are built once per process.

Text files (CSS, scripts, SVG) go out compressed when the browser accepts it: brotli, else gzip
(Bootstrap's 232 KB stylesheet is 27 KB in brotli, 31 KB in gzip). Each file is compressed once
per process, on its first request, and kept in memory; every answer names the encoding
(`Content-Encoding`) and says it depends on `Accept-Encoding` (`Vary`), so a proxy or CDN keeps
one copy per encoding. The ETag turns weak (`W/"..."`): the encodings of a file are the same file,
so a browser's cached copy is revalidated (304) whichever encoding it came in. Pages themselves
are never compressed here: an HTML page holds a CSRF token beside what the visitor typed, which
compression would leak to an attacker who can watch the sizes (BREACH).
"""
import functools
import gzip
import hashlib
import threading
from pathlib import Path

import brotli
from flask import current_app, request, url_for

YEAR = 365 * 24 * 3600
STATIC_ENDPOINTS = ("static", "bootstrap.static")


@functools.lru_cache(maxsize=64)
def version(folder, filename):
    """The first 12 hex digits of the file's SHA-256, or None when there is no such file."""
    path = Path(folder, filename)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else None


def _folder(endpoint):
    if endpoint == "static":
        return current_app.static_folder
    return current_app.blueprints[endpoint.rsplit(".", 1)[0]].static_folder


@functools.lru_cache(maxsize=64)
def _url(script_root, endpoint, filename):
    return url_for(endpoint, filename=filename, v=version(_folder(endpoint), filename))


def asset_url(endpoint, filename):
    return _url(request.script_root, endpoint, filename)


def cache_hashed_files(response):
    """A year's cache for a static file asked for by its current hash; nothing changes otherwise."""
    if request.endpoint in STATIC_ENDPOINTS and response.status_code in (200, 304):
        asked = request.args.get("v")
        filename = (request.view_args or {}).get("filename")
        if asked and filename and asked == version(_folder(request.endpoint), filename):
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = YEAR
            response.cache_control.immutable = True
    return response


COMPRESSIBLE = frozenset({"text/css", "text/javascript", "application/javascript", "image/svg+xml",
                          "text/plain", "application/json"})
SMALLEST = 256  # bytes: below this the headers weigh more than what compression saves
ENCODINGS = ("br", "gzip")  # brotli first when the browser accepts both equally
_compressed = {}  # (path, mtime, size) -> {"br": bytes, "gzip": bytes}
_compressing = threading.Lock()


def _compress(data, encoding):
    if encoding == "br":
        return brotli.compress(data, quality=9, mode=brotli.MODE_TEXT)
    return gzip.compress(data, compresslevel=9, mtime=0)


def compressed(path, encoding):
    """The file at `path` in `encoding`, compressed once per process (and again if it changes);
    None when compressing makes it no smaller."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    versions = _compressed.get(key)
    if versions is None or encoding not in versions:
        with _compressing:
            versions = _compressed.setdefault(key, {})
            if encoding not in versions:
                data = path.read_bytes()
                smaller = _compress(data, encoding)
                versions[encoding] = smaller if len(smaller) < len(data) else None
    return versions[encoding]


def accepted_encoding():
    """The browser's preferred encoding among ENCODINGS (brotli on a tie), or None for none."""
    accepted = request.accept_encodings
    best, best_quality = None, 0
    for encoding in ENCODINGS:
        quality = accepted.quality(encoding)
        if quality > best_quality:
            best, best_quality = encoding, quality
    return best


def compress_static_files(response):
    """A static text file in the encoding the browser prefers; every such answer varies by it."""
    if request.endpoint not in STATIC_ENDPOINTS or response.mimetype not in COMPRESSIBLE:
        return response
    response.vary.add("Accept-Encoding")
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(etag, weak=True)
    length = response.content_length
    if (response.status_code != 200 or "Range" in request.headers or length is None or length < SMALLEST
            or "Content-Encoding" in response.headers):
        return response
    encoding = accepted_encoding()
    filename = (request.view_args or {}).get("filename")
    if encoding is None or not filename:
        return response
    path = Path(_folder(request.endpoint), filename)
    body = compressed(path, encoding) if path.is_file() else None
    if body is None:
        return response
    if hasattr(response.response, "close"):
        response.response.close()  # the open file send_file would have streamed
    response.direct_passthrough = False
    response.set_data(body)  # HEAD too: the length is the compressed one
    response.headers["Content-Encoding"] = encoding
    response.headers.pop("Accept-Ranges", None)  # byte ranges are offered of the file as it is
    return response


def favicon():
    """/favicon.ico for whatever asks without reading a page's <link rel="icon">."""
    return current_app.send_static_file("favicon.ico")


def init_app(app):
    app.jinja_env.globals["asset_url"] = asset_url
    app.after_request(compress_static_files)
    app.after_request(cache_hashed_files)
    app.add_url_rule("/favicon.ico", "favicon", favicon)
