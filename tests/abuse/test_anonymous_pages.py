"""Issue 9, "anonymous traffic writes rows": a visitor who only looks at pages leaves nothing on
the server, neither a `sessions` row nor a Redis key, yet the forms it was served still work."""
import time

import pytest

from tests.abuse.conftest import SESSION_STORES, assert_app_page, at_once, is_logged_in, log_out, sign_up
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.parametrize("live_app", SESSION_STORES, indirect=True)]

PAGES = ["/auth/login", "/auth/register", "/no-such-page"]
VISITS_PER_PAGE = 100  # 300 cookie-less visits in all
VISITS_TIMEOUT = 60


def stored_state(live):
    """Server-side sessions and Redis keys (limits and sessions) as they are now."""
    return {"sessions": len(live.stored_sessions()), "redis keys": len(live.redis_keys())}


def test_cookieless_page_views_store_nothing(live_app, figure):
    before = stored_state(live_app)
    started = time.monotonic()

    def visit_all(page):
        def visits():
            visitor = live_app.visitor()
            statuses = []
            for _ in range(VISITS_PER_PAGE):
                visitor.cookies.clear()  # every visit is a first one, as from a crawler
                statuses.append(visitor.get(live_app.url + page).status_code)
                assert time.monotonic() - started < VISITS_TIMEOUT, "the visits took too long"
            return statuses
        return visits

    statuses = at_once([visit_all(page) for page in PAGES])

    assert statuses == [[200] * VISITS_PER_PAGE, [200] * VISITS_PER_PAGE, [404] * VISITS_PER_PAGE]
    figure(f"{len(PAGES) * VISITS_PER_PAGE} cookie-less page views: stored state before, after", (before, stored_state(live_app)))
    assert stored_state(live_app) == before


def test_forms_served_without_a_session_still_work(live_app):
    owner = live_app.visitor()
    username = sign_up(live_app, owner)
    log_out(live_app, owner)

    # A first visit to the login page, then its form, as a person would.
    visitor = live_app.visitor()
    page = visitor.get(live_app.url + "/auth/login")
    assert_app_page(page, 200)
    response = visitor.post_form(live_app.url + "/auth/login", {"username": username, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/profile", response.text[-1500:]
    assert is_logged_in(live_app, visitor)

    # The sign-up form too.
    newcomer = live_app.visitor()
    assert_app_page(newcomer.get(live_app.url + "/auth/register"), 200)
    sign_up(live_app, newcomer)
    assert is_logged_in(live_app, newcomer)

    # A form posted without its token is still refused.
    stranger = live_app.visitor()
    refused = stranger.request("POST", live_app.url + "/auth/login", data={"username": username, "password": PASSWORD})
    assert_app_page(refused, 400)
    assert not is_logged_in(live_app, stranger)
