"""Turning 2FA on in the order people expect (issue 12): number, code, recovery codes in a framed
block with Download, Copy and Print, "I have saved my recovery codes", and only then "2FA is on".
Until the codes are saved, and only while they can still be shown, the profile links back to them."""
import re

import pytest

from app import recovery as recovery_module
from tests.conftest import page_text
from tests.support import ShiftedClock, recovery_codes_on, text

IS_ON = "Two-factor authentication is on."
REMINDER = "You haven't confirmed that you saved your new recovery codes."
CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"


def alerts(response):
    return [" ".join(re.sub(r"<[^>]+>", " ", m).split())
            for m in re.findall(r'<div class="alert[^"]*" role="(?:alert|status)">(.*?)</div>', text(response), re.S)]


def enrol(auth):
    auth.register()
    assert auth.start_enrolment().headers["Location"] == "/profile/2fa/confirm"
    response = auth.confirm()
    assert response.headers["Location"] == "/profile/recovery-codes"
    return auth.client.get("/profile/recovery-codes")


def test_2fa_is_said_to_be_on_only_once_the_codes_are_saved(auth, client):
    page = enrol(auth)
    assert not any(IS_ON in alert for alert in alerts(page))
    assert "Your number is confirmed. One last step: save your recovery codes." in alerts(page)
    assert "Step 3 of 3" in text(page)
    response = auth.post("/profile/recovery-codes")
    assert response.headers["Location"] == "/profile"
    assert any(alert.startswith(IS_ON) for alert in alerts(client.get("/profile")))


def test_the_codes_sit_in_a_framed_block_with_download_copy_and_print(auth, client):
    page = enrol(auth)
    body = page_text(page)
    block = re.search(r'<section class="recovery-codes[^"]*"[^>]*data-recovery-codes>(.*?)</section>', body, re.S)
    assert block, body
    assert len(recovery_codes_on(page)) == 10 and all(code in block.group(1) for code in recovery_codes_on(page))
    # Download works without JavaScript; Copy and Print are hidden until the script shows them.
    assert re.search(r'<a [^>]*href="/profile/recovery-codes.txt" download>Download as .txt</a>', body)
    assert re.search(r'<button type="button" [^>]*data-copy-codes hidden>Copy</button>', body)
    assert re.search(r'<button type="button" [^>]*data-print-codes hidden>Print</button>', body)
    # ...a small script of our own, the CSP unchanged: no inline script, no other origin.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", body, re.S)
    assert scripts and all(inline.strip() == "" and re.search(r'src="/static/[\w.-]+\.js\?v=[0-9a-f]+"', attrs) for attrs, inline in scripts)
    assert re.search(r'src="/static/recovery-codes\.js\?v=[0-9a-f]+"', body)
    assert page.headers["Content-Security-Policy"] == CSP
    with client.get("/static/recovery-codes.js") as script:
        assert script.status_code == 200
    assert 'value="I have saved my recovery codes"' in body


def test_the_profile_reminds_until_the_codes_are_saved(auth, client):
    enrol(auth)
    profile = client.get("/profile")
    assert any(REMINDER in alert for alert in alerts(profile))
    assert '<a class="alert-link" href="/profile/recovery-codes">See your recovery codes</a>' in text(profile)
    auth.post("/profile/recovery-codes")
    assert not any(REMINDER in alert for alert in alerts(client.get("/profile")))


def test_the_reminder_ends_with_the_window_the_codes_are_shown_in(app, auth, client, monkeypatch):
    enrol(auth)
    assert any(REMINDER in alert for alert in alerts(client.get("/profile")))
    monkeypatch.setattr(recovery_module, "time", ShiftedClock(app.config["SUDO_MINUTES"] * 60 + 1))
    profile = client.get("/profile")
    assert not any(REMINDER in alert for alert in alerts(profile))
    assert client.get("/profile/recovery-codes").headers["Location"] == "/profile"


def test_new_codes_later_are_saved_without_saying_2fa_is_on_again(auth, client):
    enrol(auth)
    auth.post("/profile/recovery-codes")
    auth.open_sudo_page("/profile/recovery-codes/regenerate")
    assert auth.post("/profile/recovery-codes/regenerate").headers["Location"] == "/profile/recovery-codes"
    page = client.get("/profile/recovery-codes")
    assert "Step 3 of 3" not in text(page)
    assert any(REMINDER in alert for alert in alerts(client.get("/profile")))
    auth.post("/profile/recovery-codes")
    shown = alerts(client.get("/profile"))
    assert "Keep your recovery codes somewhere safe, away from your phone." in shown
    assert not any(IS_ON in alert for alert in shown)


@pytest.mark.parametrize("step", ["number", "code"])
def test_each_enrolment_step_says_where_it_stands(auth, client, step):
    auth.register()
    if step == "number":
        auth.confirm_its_you_to("/profile/2fa/enable")
        page = text(client.get("/profile/2fa/enable"))
        assert "Step 1 of 3" in page
        assert "ten recovery codes to save" in page
    else:
        auth.start_enrolment()
        assert "Step 2 of 3" in text(client.get("/profile/2fa/confirm"))
