"""app/flask_app.py: templates take a copy of the environment's globals when loaded (every global
must be registered before the first page renders, and a template must still not change them);
Flask's sync-or-async answer is kept for registered functions only."""
from tests.conftest import csrf_token


def test_every_global_reaches_every_loaded_template(app, client, auth):
    auth.register("alice")
    for url in ("/profile", "/auth/login", "/auth/register", "/profile/2fa/enable", "/no-such-page"):
        client.get(url)
    loaded = [template for template in app.jinja_env.cache.values()]
    assert len(loaded) >= 5
    for template in loaded:
        assert set(template.globals) >= set(app.jinja_env.globals), template.name


def test_a_templates_globals_are_its_own(app):
    with app.test_request_context():
        one = app.jinja_env.from_string("{{ url_for('auth.login') }}", globals={"extra": 1})
        one.globals["url_for"] = lambda endpoint: "changed"
        assert one.render() == "changed"
        assert "extra" not in app.jinja_env.globals
        assert app.jinja_env.from_string("{{ url_for('auth.login') }}").render() == "/auth/login"


def test_pages_still_render_their_links_and_tokens(client):
    page = client.get("/auth/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'action="/auth/login"' in html and 'href="/auth/register"' in html
    assert csrf_token(client)


def test_only_registered_functions_are_remembered_as_sync(app, client):
    from flask import after_this_request

    @app.route("/once-per-request")
    def once_per_request():
        @after_this_request
        def stamp(response):
            response.headers["X-Stamp"] = "1"
            return response
        return "ok"

    first = client.get("/once-per-request")
    assert first.headers["X-Stamp"] == "1"
    remembered = len(app._sync_versions)
    assert app.view_functions["once_per_request"] in app._sync_versions
    for _ in range(5):
        assert client.get("/once-per-request").headers["X-Stamp"] == "1"
    assert len(app._sync_versions) == remembered, "a function made for one request was kept"
    assert all(hook in app._sync_versions for hook in app.before_request_funcs[None])
