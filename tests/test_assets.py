"""Static files are linked with their content's hash (`?v=`), and such a link is cached for a year:
a browser then asks for none of them on the next page (a phone on a slow line saves a round trip
per file, the server a request). A link without the right hash is not cached, so a new release is
never hidden behind an old copy."""
import hashlib
import re
from pathlib import Path

import pytest

YEAR = 365 * 24 * 3600
LINKED = {"bootstrap.min.css", "app.css", "app.js", "webauthn.js", "favicon.ico", "favicon.svg"}
ASSET = re.compile(r'(?:href|src)="(/(?:static|bootstrap/static)/[^"?]+)\?v=([0-9a-f]+)"')


def linked_assets(client, url="/auth/login"):
    return ASSET.findall(client.get(url).get_data(as_text=True))


def file_of(app, path):
    if path.startswith("/bootstrap/static/"):
        return Path(app.blueprints["bootstrap"].static_folder) / path.removeprefix("/bootstrap/static/")
    return Path(app.static_folder) / path.removeprefix("/static/")


def test_every_page_asset_is_linked_with_its_contents_hash(app, client):
    assets = linked_assets(client)
    assert {path.rsplit("/", 1)[1] for path, _ in assets} == LINKED
    for path, version in assets:
        assert version == hashlib.sha256(file_of(app, path).read_bytes()).hexdigest()[:len(version)]
        assert len(version) >= 12


def test_a_hashed_link_is_cached_for_a_year(client):
    assets = linked_assets(client)
    assert len(assets) == len(LINKED)
    for path, version in assets:
        answer = client.get(f"{path}?v={version}")
        answer.close()
        assert answer.status_code == 200
        assert answer.cache_control.max_age == YEAR and answer.cache_control.immutable, answer.headers
        assert answer.cache_control.public and not answer.cache_control.no_cache


@pytest.mark.parametrize("query", ["", "?v=0123456789ab", "?v="])
def test_a_link_without_the_right_hash_is_not_cached(client, query):
    assets = linked_assets(client)
    assert len(assets) == len(LINKED)
    for path, _ in assets:
        answer = client.get(path + query)
        answer.close()
        assert answer.status_code == 200
        assert answer.cache_control.no_cache and not answer.cache_control.max_age, answer.headers
        assert not answer.cache_control.immutable


def test_the_countdown_script_is_hashed_too(client, auth):
    auth.signup_with_2fa()
    auth.login()
    html = client.get("/auth/verify").get_data(as_text=True)
    assert re.search(r'src="/static/countdown\.js\?v=[0-9a-f]{12,}"', html), "countdown.js without its hash"
