"""The code step shared by login, re-authentication and enrolment: one form, one set of answers."""
from flask import flash, make_response, redirect, render_template

from app.auth.forms import ActionForm, CodeForm
from app.codes import check_code, code_step_wait, resend_wait, send_code, sent_message
from app.throttle import Taken, Throttled
from app.verification import CheckResult, VerificationError
from app.verification.base import CODE_EXPIRED, TOO_MANY_WRONG_CODES as TOO_MANY_CODES

WRONG_CODE = "Incorrect code. Please try again."


def retry_after_header(error):
    return {"Retry-After": str(error.retry_after)} if error.retry_after else {}


NO_ATTEMPT = Taken([])  # a code step that counts no attempts of its own


class CodePage:
    """Renders one code-step template for one phone number, with the right status."""

    def __init__(self, template, phone, user, **context):
        self.template = template
        self.phone = phone
        self.user = user
        self.context = context

    def render(self, form=None, status=200, headers=None):
        form = form if form is not None else CodeForm(formdata=None)
        body = render_template(
            self.template, form=form, actions=ActionForm(), resend_wait=resend_wait(self.phone, self.user), **self.context
        )
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
        wait = code_step_wait(user)
        flash(f"Too many incorrect codes. The code step is locked; try again in {max(1, wait // 60)} minutes.", "danger")
        return self.render(status=429, headers={"Retry-After": str(wait)})

    def submit(self, form, user, take_attempt=None, exhausted=None):
        """Checks a submitted code: (CheckResult, None) when approved, else (result, response).

        `take_attempt`, when given, takes one attempt before the code goes to the verifier (so
        parallel guesses can't all slip through); when none is left, the answer is `exhausted()`
        and the code is not checked. An answer that was not a guess (the code had ended, the
        service was down) gives the attempt back."""
        if code_step_wait(user):
            return None, self.locked(user)
        if not form.validate_on_submit():
            return None, self.render(form, 400 if form.errors else 200)
        attempt = take_attempt() if take_attempt is not None else NO_ATTEMPT
        if attempt is None:
            return None, exhausted()
        try:
            result = check_code(user, self.phone, form.code.data)
        except VerificationError as error:
            attempt.refund()
            return None, self.error(error, form)
        if result is CheckResult.EXPIRED:
            attempt.refund()
        if result is CheckResult.APPROVED:
            return result, None
        if code_step_wait(user):
            return result, self.locked(user)
        if result is CheckResult.WRONG:
            form.code.raw_data, form.code.data = None, ""  # a wrong code is no use to edit
            form.code.errors.append(WRONG_CODE)
            return result, self.render(form, 401)
        flash(CODE_EXPIRED if result is CheckResult.EXPIRED else TOO_MANY_CODES, "warning")
        return result, self.render(status=400)

    def resend(self, user, channel, back):
        """A 'Resend code' or 'Call me instead' button."""
        if not ActionForm().validate_on_submit():
            flash("Your form expired. Please try again.", "warning")
            return redirect(back)
        if code_step_wait(user):
            return self.locked(user)
        try:
            flash(sent_message(send_code(self.phone, user, channel=channel)), "info")
        except (Throttled, VerificationError) as error:
            return self.error(error)
        return redirect(back)

    def send_first(self, user, then):
        """Sends the first code of a step and redirects to it; a recent code is reused."""
        if code_step_wait(user):
            return redirect(then)
        try:
            flash(sent_message(send_code(self.phone, user)), "info")
        except Throttled:
            flash("A code was sent a moment ago. Enter it below, or request a new one shortly.", "info")
        except VerificationError as error:
            return self.error(error)
        return redirect(then)
