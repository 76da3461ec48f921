"""Templates take a copy of the environment's globals when loaded (app/templating.py): every global
must be registered before the first page renders, and a template must still not change them."""
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
