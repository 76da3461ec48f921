"""Every answer Twilio Verify's OpenAPI description allows, walked through the app's pages.

A check answers 200 (or 201) with `status` one of pending, approved, canceled, max_attempts_reached,
deleted, failed, expired, or null; a new verification answers 201 with a status that is not always
`pending`; the one error the description documents for creating a verification is 429 / 20429 with
`Retry-After`; twilio 9.x raises TwilioServiceException (not TwilioRestException) for errors in
RFC 9457 shape. Each is injected through the fake Verify server and checked where a person meets
it: the page, its status, the words on it, and whether it counted as a wrong code.
"""
import logging

import pytest

from app.codes import sent_message
from app.models import User
from app.verification import Sent, verifier
from tests.conftest import PHONE
from tests.fake_verify import CHANNELS, STATUSES
from tests.support import NO_SEND_LIMITS, text, wait_out_cooldown

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)

WRONG_CODE = "Incorrect code. Please try again."
CODE_EXPIRED = "This code expired or is no longer valid. Request a new code."
TOO_MANY_WRONG = "Too many incorrect codes. Request a new code."
UNAVAILABLE = "The verification service is unavailable. Please try again shortly."
INVALID_NUMBER = "This phone number is not valid. Check it and try again."
TOO_MANY_SENDS = "Too many codes were requested. Try again in 10 minutes."
BLOCKED = "We can't send a code to this number right now."
SENT = "We sent a code by text message"  # what a page says after a code went out
MASKED = "+44 ••• ••• •456"


def busy(seconds):
    return f"The verification service is busy. Try again in {seconds} seconds."


# status -> (HTTP status of the page, sentence on it, counted as a wrong code)
CHECK_ANSWERS = {
    "pending": (401, WRONG_CODE, True),
    "approved": (302, None, False),
    "canceled": (400, CODE_EXPIRED, False),
    "expired": (400, CODE_EXPIRED, False),
    "deleted": (400, CODE_EXPIRED, False),
    "max_attempts_reached": (400, TOO_MANY_WRONG, True),
    "failed": (503, UNAVAILABLE, False),
    None: (503, UNAVAILABLE, False),
    "under_review": (503, UNAVAILABLE, False),  # a status the description does not list
}
assert set(STATUSES) <= set(CHECK_ANSWERS)  # every status of the response, and more

# A new verification that is not `pending` was not sent: a plain sentence, never "we sent".
SEND_ANSWERS = {
    "approved": (503, UNAVAILABLE),
    "canceled": (409, CODE_EXPIRED),
    "expired": (409, CODE_EXPIRED),
    "deleted": (409, CODE_EXPIRED),
    "max_attempts_reached": (429, TOO_MANY_WRONG),
    "failed": (503, UNAVAILABLE),
    None: (503, UNAVAILABLE),
    "under_review": (503, UNAVAILABLE),
}
assert set(STATUSES) - {"pending"} <= set(SEND_ANSWERS)

CODE_PAGES = {"login": "/auth/verify", "enrolment": "/profile/2fa/confirm"}


def failures(app, username="alice"):
    with app.app_context():
        return User.by_username(username).code_failures


def open_code_step(step, auth):
    """A person who has a code on their phone and the code page open."""
    if step == "login":
        auth.signup_with_2fa()
        assert auth.login().headers["Location"] == CODE_PAGES["login"]
    else:
        auth.register()
        assert auth.start_enrolment().headers["Location"] == CODE_PAGES["enrolment"]
    auth.client.get(CODE_PAGES[step])


def submit_code(step, auth, code):
    return auth.verify(code) if step == "login" else auth.confirm(code)


@pytest.mark.parametrize("http_status", [200, 201])
@pytest.mark.parametrize("status", list(CHECK_ANSWERS), ids=repr)
@pytest.mark.parametrize("step", list(CODE_PAGES))
def test_every_check_status_through_the_code_page(step, status, http_status, app, auth, fake, caplog):
    open_code_step(step, auth)
    code = fake.last_code(PHONE)
    before = failures(app)
    fake.inject_status("check", status, http_status=http_status)

    with caplog.at_level(logging.WARNING):
        response = submit_code(step, auth, code)

    page_status, sentence, counted = CHECK_ANSWERS[status]
    assert response.status_code == page_status, text(response)
    if status == "approved":
        assert response.headers["Location"] == ("/profile" if step == "login" else "/profile/recovery-codes")
    else:
        assert sentence in text(response)
        assert auth.client.get("/profile").status_code == (302 if step == "login" else 200)
    if status == "approved":
        assert failures(app) == 0
    else:
        assert failures(app) == before + (1 if counted else 0)
    if page_status == 503:  # logged with the status, the number masked, never the code
        logged = [r.getMessage() for r in caplog.records if "status=" in r.getMessage()]
        assert any(f"status={status!r}" in line and MASKED in line for line in logged), caplog.text
    assert code not in caplog.text and PHONE not in caplog.text


@pytest.mark.parametrize("status", list(CHECK_ANSWERS)[2:5], ids=repr)
def test_an_ended_verification_leaves_the_attempts_alone_and_a_new_code_works(status, app, auth, fake):
    """Canceled, expired or deleted is not the person's mistake: asking for a new code and typing
    it logs in, and the login's attempts were not used up by it."""
    open_code_step("login", auth)
    code = fake.last_code(PHONE)
    for _ in range(6):  # more than CODE_ATTEMPTS_PER_LOGIN (5), had they counted
        fake.inject_status("check", status)
        assert CODE_EXPIRED in text(auth.verify(code))
    assert failures(app) == 0
    wait_out_cooldown(app)
    auth.post("/auth/verify/resend", form_url="/auth/verify")
    response = auth.verify()
    assert response.headers.get("Location") == "/profile", text(response)


def start_send(step, auth):
    if step == "login":
        auth.signup_with_2fa()
        return auth.login
    auth.register()
    return auth.start_enrolment


@pytest.mark.parametrize("status", list(SEND_ANSWERS), ids=repr)
@pytest.mark.parametrize("step", list(CODE_PAGES))
def test_a_new_verification_that_is_not_pending_was_not_sent(step, status, app, auth, fake, caplog):
    send = start_send(step, auth)
    sends_before = len(fake.sends)
    fake.inject_status("send", status)
    with caplog.at_level(logging.WARNING):
        response = send()
    page_status, sentence = SEND_ANSWERS[status]
    page = text(response)
    assert response.status_code == page_status, page
    assert sentence in page and SENT not in page
    assert len(fake.sends) == sends_before
    if step == "enrolment":  # nothing saved, still enrolling
        assert auth.client.get(CODE_PAGES["enrolment"]).headers.get("Location") == "/profile/2fa/enable"
        with app.app_context():
            assert User.by_username("alice").phone is None
    if page_status == 503:
        assert any(f"status={status!r}" in r.getMessage() and MASKED in r.getMessage() for r in caplog.records)
    assert PHONE not in caplog.text


@pytest.mark.parametrize(("retry_after", "seconds"), [("17", 17), (None, 30), ("soon", 30), ("-5", 30)])
@pytest.mark.parametrize("step", list(CODE_PAGES))
def test_twilio_rate_limit_at_a_send_is_a_429_with_its_retry_after(step, retry_after, seconds, auth, fake):
    send = start_send(step, auth)
    fake.rate_limit("send", retry_after=retry_after)
    response = send()
    assert response.status_code == 429, text(response)
    assert busy(seconds) in text(response)
    assert response.headers.getlist("Retry-After") == [str(seconds)]
    assert UNAVAILABLE not in text(response)


@pytest.mark.parametrize("step", list(CODE_PAGES))
def test_twilio_rate_limit_at_a_check_is_a_429_and_not_a_wrong_code(step, app, auth, fake):
    open_code_step(step, auth)
    fake.rate_limit("check", retry_after=42)
    response = submit_code(step, auth, fake.last_code(PHONE))
    assert response.status_code == 429
    assert busy(42) in text(response)
    assert response.headers["Retry-After"] == "42"
    assert failures(app) == 0
    assert submit_code(step, auth, fake.last_code(PHONE)).status_code == 302  # once it has passed


# Errors in RFC 9457 shape (TwilioServiceException) are handled by their code like the others.
PROBLEM_SENDS = [
    (400, 60200, 400, INVALID_NUMBER),
    (429, 60203, 429, TOO_MANY_SENDS),
    (403, 60410, 403, BLOCKED),
    (403, 60605, 403, BLOCKED),
    (429, 20429, 429, busy(30)),
    (503, 20503, 503, UNAVAILABLE),
]


@pytest.mark.parametrize(("http_status", "code", "page_status", "sentence"), PROBLEM_SENDS,
                         ids=[str(case[1]) for case in PROBLEM_SENDS])
@pytest.mark.parametrize("step", list(CODE_PAGES))
def test_problem_details_errors_at_a_send(step, http_status, code, page_status, sentence, auth, fake):
    send = start_send(step, auth)
    fake.inject("send", http_status, code=code, message="Injected", problem=True)
    response = send()
    assert response.status_code == page_status, text(response)
    assert sentence in text(response)


@pytest.mark.parametrize(("http_status", "code", "page_status", "sentence", "counted"), [
    (404, 20404, 400, CODE_EXPIRED, False),
    (429, 60202, 400, TOO_MANY_WRONG, True),
    (503, 20503, 503, UNAVAILABLE, False),
], ids=["20404", "60202", "20503"])
def test_problem_details_errors_at_a_check(http_status, code, page_status, sentence, counted, app, auth, fake):
    open_code_step("login", auth)
    fake.inject("check", http_status, code=code, message="Injected", problem=True)
    response = auth.verify(fake.last_code(PHONE))
    assert response.status_code == page_status, text(response)
    assert sentence in text(response)
    assert failures(app) == (1 if counted else 0)


# -- the sentence after a send ------------------------------------------------------------------

CHANNEL_WORDS = {
    "sms": "by text message", "call": "calling your phone", "whatsapp": "by WhatsApp",
    "email": "by email", "sna": "through your mobile network", "rcs": "by RCS",
}


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_sentence_after_a_send_names_the_channel_verify_sends_by(channel, app, fake):
    """Every channel the description lets a verification be created with, through the real client
    and the fake: the sentence names it (`auto` is answered with the channel Verify picked)."""
    to = "someone@example.com" if channel == "email" else PHONE
    with app.test_request_context():
        sent = verifier().send(to, channel)
    assert sent == Sent(channel="sms" if channel == "auto" else channel)
    assert CHANNEL_WORDS[sent.channel] in sent_message(sent)


def test_every_channel_has_its_own_sentence():
    sentences = {channel: sent_message(Sent(channel)) for channel in CHANNEL_WORDS}
    assert len(set(sentences.values())) == len(sentences)
    for channel, words in CHANNEL_WORDS.items():
        assert words in sentences[channel]
    assert sent_message(Sent("pigeon")) == "We sent you a code."
    assert "calling" in sent_message(Sent("call", fell_back=True))


def test_call_me_instead_says_a_call_is_coming(auth, fake):
    open_code_step("login", auth)
    wait_out_cooldown(auth.client.application)
    response = auth.post("/auth/verify/call", form_url="/auth/verify")
    assert response.status_code == 302
    assert fake.sends[-1]["channel"] == "call"
    page = text(auth.client.get("/auth/verify"))
    assert "We are calling your phone now with your code." in page and SENT not in page
