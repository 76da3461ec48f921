"""Static files linked with their content's hash, and cached for a year when so asked for.

`asset_url` gives e.g. `/static/app.css?v=3f2a9c1b7d4e`: the URL changes whenever the file does,
so a browser may keep what it fetched for a year and ask for nothing on the next page (on a slow
mobile line that is a round trip saved per file; for the server, a request). A request without
the current hash (an old page, a hand-typed URL) is answered as before, revalidated every time,
so a release is never hidden behind an old copy. URLs and hashes are built once per process.
"""
import functools
import hashlib
from pathlib import Path

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


def init_app(app):
    app.jinja_env.globals["asset_url"] = asset_url
    app.after_request(cache_hashed_files)
