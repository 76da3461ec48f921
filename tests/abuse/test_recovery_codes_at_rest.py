"""Security review row 4, "recovery codes readable in the session store": the ten new recovery
codes wait in the server-side session until the person has saved them. They are kept there
encrypted under a key that only the browser holds (a cookie of its own), so a copy of the sessions
table or of the sessions' Redis database yields none of them, and neither does the session cookie
alone: only the browser that made them sees them."""
import pytest

from tests.abuse.conftest import RECOVERY_CODE, SESSION_STORES, enter_code, sign_up, start_enrolment
from tests.support import SESSION_COOKIE, random_gb_mobile

pytestmark = [pytest.mark.live, pytest.mark.parametrize("live_app", SESSION_STORES, indirect=True)]

PAGES = ("/profile/recovery-codes", "/profile/recovery-codes.txt")


def enrolled_with_new_codes(live, fake):
    """A browser that has just turned 2FA on and not yet saved its codes; returns it and the
    codes (as shown, `abcd-efgh`)."""
    browser = live.visitor()
    sign_up(live, browser)
    phone = random_gb_mobile()
    response = start_enrolment(live, browser, phone)
    assert response.status_code == 302 and response.headers["Location"] == "/profile/2fa/confirm", response.text[-1500:]
    response = enter_code(live, browser, "/profile/2fa/confirm", fake.last_code(phone))
    assert response.status_code == 302 and response.headers["Location"] == "/profile/recovery-codes", (
        response.status_code, response.headers.get("Location"))
    codes = RECOVERY_CODE.findall(browser.get(live.url + "/profile/recovery-codes.txt").text)
    assert len(set(codes)) == 10, f"the download shows {len(codes)} codes"
    return browser, codes


def readable_in(codes, stored):
    """The codes found in any stored session's data, written with or without their dash."""
    return [code for code in codes
            if any(form.encode() in data for form in (code, code.replace("-", "")) for _sid, data in stored)]


def shown_on(response, codes):
    """The codes a page or download shows."""
    return [code for code in codes if code in response.text]


def test_new_recovery_codes_are_not_readable_in_the_session_store(live_app, fake, figure):
    _browser, codes = enrolled_with_new_codes(live_app, fake)

    stored = live_app.stored_sessions()
    assert stored, "no stored session was found (the harness reads the wrong store)"
    readable = readable_in(codes, stored)

    figure("new recovery codes readable in the session store", f"{len(readable)} of {len(codes)}")
    assert not readable, (
        f"{len(readable)} of the {len(codes)} new recovery codes are readable in the stored sessions "
        f"({len(stored)} sessions read): a copy of the session store gives them away")


def test_the_session_cookie_alone_does_not_show_new_recovery_codes(live_app, fake, figure):
    browser, codes = enrolled_with_new_codes(live_app, fake)
    # Someone with a copy of the session cookie (and the same User-Agent, to which sessions are
    # bound) but none of the browser's other cookies.
    thief = live_app.visitor()
    thief.user_agent = browser.user_agent
    thief.cookies = {SESSION_COOKIE: browser.cookies[SESSION_COOKIE]}

    seen = {}
    for path in PAGES:
        response = thief.get(live_app.url + path)
        seen[path] = (response.status_code, shown_on(response, codes))
    figure("new recovery codes shown to the session cookie alone",
           {path: len(shown) for path, (_status, shown) in seen.items()})
    shown = {path: f"{status} with {len(found)} codes" for path, (status, found) in seen.items() if found}
    assert not shown, f"a copy of the session cookie alone gets the new recovery codes: {shown}"

    # The browser that made them still sees them all.
    for path in PAGES:
        response = browser.get(live_app.url + path)
        assert response.status_code == 200, f"the browser that made the codes: {path} answers {response.status_code}"
        missing = set(codes) - set(shown_on(response, codes))
        assert not missing, f"the browser that made the codes: {path} misses {len(missing)} of them"
