"""URLs of the static files every page links (Bootstrap's CSS, app.css, app.js), built once per
mount point instead of by url_for on every page."""
import functools

from flask import request, url_for


@functools.lru_cache(maxsize=32)
def _url(script_root, endpoint, filename):
    return url_for(endpoint, filename=filename)


def asset_url(endpoint, filename):
    return _url(request.script_root, endpoint, filename)


def init_app(app):
    app.jinja_env.globals["asset_url"] = asset_url
