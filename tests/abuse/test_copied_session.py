"""Security review row 3: a copied session cookie cannot put the thief's phone on the account.

Turning 2FA on asks for the password typed now ("confirm it's you"), like every other factor
change: a login a minute old is not enough. Whoever holds a copy of the cookie of a fresh login
(2FA off) gets the re-authentication page, and no code goes to their number."""
import pytest

from tests.abuse.conftest import enrolment_form, new_address, send_requests_to, sign_up
from tests.support import Visitor, random_gb_mobile

pytestmark = pytest.mark.live


def thief_with_copy_of(live, owner):
    """Another browser (same User-Agent: the session is bound to it) with the owner's cookies."""
    thief = Visitor(new_address(), user_agent=owner.user_agent, timeout=30)
    thief.cookies = dict(owner.cookies)
    live.visitors.append(thief)
    return thief


def test_a_copied_fresh_session_cannot_enrol_a_phone(live_app, fake, figure):
    owner = live_app.visitor()
    sign_up(live_app, owner)  # logged in a moment ago, 2FA off
    thief = thief_with_copy_of(live_app, owner)
    assert thief.get(live_app.url + "/profile").status_code == 200, "the copy is a live session"

    thiefs_phone = random_gb_mobile()
    token = thief.csrf_token(live_app.url + "/profile")
    response = thief.request("POST", live_app.url + "/profile/2fa/enable",
                             data={**enrolment_form(live_app, thiefs_phone), "csrf_token": token})
    figure("POST /profile/2fa/enable from a copied fresh session", response.status_code)
    assert response.status_code == 302, (response.status_code, response.text[-500:])
    assert response.headers["Location"].startswith("/auth/reauthenticate?next="), response.headers["Location"]
    assert not send_requests_to(fake, thiefs_phone), "a code went to the thief's number"
    assert thief.get(live_app.url + "/profile/2fa/enable").headers.get("Location", "").startswith("/auth/reauthenticate")
