"""The code step shared by login, re-authentication and enrolment: one form, one set of answers,
and one way of saying where the code went and when another one may be asked for.

The page works with a challenge (app.methods): a phone's, which sends codes and has the buttons
below, an authenticator app's, which sends nothing, or a passkey's, answered by the browser (its
form, and the page, say so); it asks the challenge to check the code or answer.

Every button on a code page (Resend code, Call me instead, Send by WhatsApp instead) ends in a
redirect back to the page, whatever happened, so no POST address is left in the browser and a reload
never sends again. A button shows, and its address answers, only for a channel VERIFY_CHANNELS lists.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from babel.dates import format_datetime
from flask import abort, current_app, flash, make_response, redirect, render_template, request, session

from app.auth.forms import ActionForm, CodeForm
from app.codes import code_step_wait, cooldown_wait, phone_key, resend_wait, send_code, sent_message
from app.i18n import N_, _, ngettext
from app.phones import formatted, last_digits
from app.throttle import Taken, Throttled
from app.verification import CheckResult, VerificationError
from app.verification.base import CODE_EXPIRED, TOO_MANY_WRONG_CODES as TOO_MANY_CODES
from app.waits import page_locale, wait_in_words

WRONG_CODE = N_("Incorrect code. Please try again.")
ALREADY_USED = N_("This code was already used. Wait for the next one.")
SENT_BY = "code_sent_by"  # the channel of the last code sent in this session, and to which number
# Where the code went, by the channel it went by (None: not known), as whole sentences: to the whole
# number (`phone`), or to the one on the account, named by its last digits (`digits`).
SENT_TO = {
    "sms": (N_("We sent a code by text message to %(phone)s."),
            N_("We sent a code by text message to your phone number ending in %(digits)s.")),
    "call": (N_("We sent a code by phone call to %(phone)s."),
             N_("We sent a code by phone call to your phone number ending in %(digits)s.")),
    "whatsapp": (N_("We sent a code by WhatsApp message to %(phone)s."),
                 N_("We sent a code by WhatsApp message to your phone number ending in %(digits)s.")),
    None: (N_("We sent a code to %(phone)s."), N_("We sent a code to your phone number ending in %(digits)s.")),
}
NO_ATTEMPT = Taken([])  # a code step that counts no attempts of its own


def retry_after_header(error):
    return {"Retry-After": str(error.retry_after)} if error.retry_after else {}


def clock_time_after(seconds):
    """The UTC time, on the minute, by which `seconds` will surely have passed: `14:33 UTC`, or
    `4 Mar, 00:05 UTC` on another day (the month in the page's language)."""
    now = datetime.now(timezone.utc)
    moment = now + timedelta(seconds=seconds)
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    pattern = "HH:mm" if moment.date() == now.date() else "d MMM, HH:mm"
    return f"{format_datetime(moment, pattern, tzinfo=timezone.utc, locale=page_locale())} UTC"


def resend_sentence(wait):
    """What the page says until another code may be sent, and what an early click is told."""
    return _("You can ask for a new code after %(time)s.", time=clock_time_after(wait))


def locked_sentence(wait):
    return _("For your security, entering codes on this account is locked for %(wait)s. "
             "You can try again after %(time)s.", wait=wait_in_words(wait), time=clock_time_after(wait))


def wrong_code_message(tries_left):
    """A wrong code; once only two tries are left, how many."""
    if tries_left is None or tries_left > 2:
        return _(WRONG_CODE)
    return ngettext("Incorrect code. You have %(num)d try left.", "Incorrect code. You have %(num)d tries left.",
                    tries_left)


def refuse_channels_not_offered():
    """A code-step button's address for a channel VERIFY_CHANNELS leaves out is not found (404).

    A request hook, not a check in the views: it answers before the CSRF check, so such an
    address is a 404 whatever the request carries, never an expired form."""
    channel = (request.view_args or {}).get("channel")
    if channel is not None and channel not in current_app.config["VERIFY_CHANNELS"]:
        abort(404)


def record_sent(phone, sent):
    session[SENT_BY] = {"to": phone_key(phone), "channel": sent.channel}


@dataclass(frozen=True)
class CodeStep:
    """What a code page says around its form."""

    sent: str  # where the code went, and how
    valid_minutes: int
    wait: int  # seconds until the buttons (Resend code, ...) can send; 0 when they can now
    wait_sentence: str
    locked: str  # why no code can be entered now, or "" when one can
    channels: tuple  # what the buttons may send by (VERIFY_CHANNELS): sms always, call, whatsapp
    sends_codes: bool  # False for an authenticator app: no buttons, no "valid for"
    passkey: bool = False  # answered by a passkey or security key: a button, no code field


class CodePage:
    """Renders one code-step template for one challenge, with the right status.

    `full_number` says the whole number (one just typed, during enrolment, so a typo shows);
    otherwise the page names only its last digits (the number on the account)."""

    def __init__(self, template, challenge, user, full_number=False, **context):
        self.template = template
        self.challenge = challenge
        self.phone = getattr(challenge, "phone", None)  # for the buttons: only a phone's challenge sends
        self.user = user
        self.full_number = full_number
        self.context = context

    def sent_sentence(self):
        if not self.challenge.sends_codes:
            return self.challenge.prompt()
        record = session.get(SENT_BY)
        channel = record.get("channel") if isinstance(record, dict) and record.get("to") == phone_key(self.phone) else None
        to_number, to_digits = SENT_TO.get(channel, SENT_TO[None])
        if self.full_number:
            return _(to_number, phone=formatted(self.phone))
        return _(to_digits, digits=last_digits(self.phone))

    def step(self):
        lock = code_step_wait(self.user)
        wait = 0 if lock or not self.challenge.sends_codes else resend_wait(self.phone, self.user)
        return CodeStep(
            sent=self.sent_sentence(),
            valid_minutes=int(current_app.config["CODE_TTL"].total_seconds() // 60),
            wait=wait,
            wait_sentence=resend_sentence(wait) if wait else "",
            locked=locked_sentence(lock) if lock else "",
            channels=current_app.config["VERIFY_CHANNELS"],
            sends_codes=self.challenge.sends_codes,
            passkey=getattr(self.challenge, "passkey", False),
        )

    def form(self, form_class=CodeForm, **kwargs):
        """The code form, expecting the challenge's number of digits (or the challenge's own form)."""
        if hasattr(self.challenge, "form_class"):
            form_class = self.challenge.form_class(form_class)
        form = form_class(**kwargs)
        form.code.length = self.challenge.code_length
        return form

    def render(self, form=None, status=200, headers=None):
        form = form if form is not None else self.form(formdata=None)
        body = render_template(self.template, form=form, actions=ActionForm(), step=self.step(), **self.context)
        response = make_response(body, status)
        response.headers.update(headers or {})
        return response

    def error(self, error, form=None):
        """The page for a VerificationError or a Throttled, with its status and Retry-After."""
        if isinstance(error, Throttled):
            flash(error.description, "warning")
            return self.render(form, 429, {"Retry-After": str(error.retry_after_seconds)})
        flash(error.message, "danger")
        return self.render(form, error.status, retry_after_header(error))

    def locked(self, user):
        """No form and no buttons: the page says how long entering codes is locked."""
        return self.render(status=429, headers={"Retry-After": str(code_step_wait(user))})

    def submit(self, form, user, take_attempt=None, exhausted=None, tries_left=None):
        """Checks a submitted code: (CheckResult, None) when approved, else (result, response).

        `take_attempt`, when given, takes one attempt before the code goes to the verifier (so
        parallel guesses can't all slip through); when none is left, the answer is `exhausted()`
        and the code is not checked. An answer that was not a guess (the code had ended, the
        service was down) gives the attempt back. `tries_left()` counts what is left after a
        wrong code, for the message."""
        if code_step_wait(user):
            return None, self.locked(user)
        if not form.validate_on_submit():
            return None, self.render(form, 400 if form.errors else 200)
        attempt = take_attempt() if take_attempt is not None else NO_ATTEMPT
        if attempt is None:
            return None, exhausted()
        try:
            result = self.challenge.check(user, form.code.data)
        except VerificationError as error:
            attempt.refund()
            return None, self.error(error, form)
        if result in (CheckResult.EXPIRED, CheckResult.ALREADY_USED):
            attempt.refund()  # not a guess: the code was right, or had ended
        if result is CheckResult.APPROVED:
            return result, None
        if code_step_wait(user):
            return result, self.locked(user)
        if result in (CheckResult.WRONG, CheckResult.ALREADY_USED):
            form.code.raw_data, form.code.data = None, ""  # a wrong code is no use to edit
            form.code.errors.append(_(ALREADY_USED) if result is CheckResult.ALREADY_USED else
                                    getattr(self.challenge, "message", None) or
                                    wrong_code_message(tries_left() if tries_left is not None else None))
            return result, self.render(form, 401)
        expired = getattr(self.challenge, "message", None) or _(CODE_EXPIRED)
        flash(expired if result is CheckResult.EXPIRED else _(TOO_MANY_CODES), "warning")
        return result, self.render(status=400)

    def resend(self, user, channel, back):
        """A 'Resend code', 'Call me instead' or 'Send by WhatsApp instead' button: whatever the
        outcome, back to the page, which says it (a locked page says so itself)."""
        if not ActionForm().validate_on_submit():
            flash(_("Your form expired. Please try again."), "warning")
            return redirect(back)
        if code_step_wait(user) or not self.challenge.sends_codes:
            return redirect(back)
        wait = resend_wait(self.phone, user)
        if wait > cooldown_wait(self.phone, user):
            # A send limit is used up: refused as such (429, Retry-After), not just paced.
            return self.error(Throttled(resend_sentence(wait), wait))
        if wait:  # a code went out a moment ago: back to the page, which says until when
            flash(resend_sentence(wait), "warning")
            return redirect(back)
        try:
            sent = send_code(self.phone, user, channel=channel)
        except Throttled as error:  # a send that raced this one took the last of a limit
            return self.error(error)
        except VerificationError as error:
            flash(error.message, "danger")
        else:
            record_sent(self.phone, sent)
            flash(sent_message(sent), "info")
        return redirect(back)

    def send_first(self, user, then, render_errors=True):
        """Sends the first code of a step (by the challenge's channel) and redirects to it; a
        recent code is reused. When the code can't be sent, the page says why: rendered here
        (`render_errors`), or after the redirect. A challenge that sends nothing goes straight on."""
        if code_step_wait(user) or not self.challenge.sends_codes:
            return redirect(then)
        try:
            sent = send_code(self.phone, user, channel=self.challenge.channel)
        except Throttled:
            flash(_("A code was sent a moment ago. Enter it below, or request a new one shortly."), "info")
        except VerificationError as error:
            if render_errors:
                return self.error(error)
            flash(error.message, "danger")
        else:
            record_sent(self.phone, sent)
            flash(sent_message(sent), "info")
        return redirect(then)
