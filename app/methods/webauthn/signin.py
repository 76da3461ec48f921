"""Passkeys on the auth pages: signing in with a passkey alone (the login page's "Sign in with a
passkey", and the username field's autofill), confirming it's you with a passkey alone, and the
options the script asks for before each ceremony (the second step's passkey is answered on the
code pages themselves, app.auth.login_code and app.auth.reauthenticate).

Options are a POST with the page's CSRF token and answer JSON; they leave nothing on the server
(see ceremony.py). A passkey sign-in is counted like a password login, narrowest first: per client
address (the same count as password logins), then per credential from that address, then per
credential from anywhere (a short wait only)."""
import json
import logging

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app import events
from app.auth import bp
from app.auth.forms import LoginForm, PasswordConfirmForm
from app.auth.login_code import code_check_limit, pending_user_or_restart
from app.auth.reauthenticate import code_step_attempts, finish_reauthentication, page_context, reauth_key
from app.auth.routes import TOO_MANY_FOR_ACCOUNT
from app.auth.session import complete_login
from app.extensions import limiter
from app.i18n import _
from app.methods.webauthn import ceremony
from app.methods.webauthn.forms import PasskeyForm
from app.security import client_key, client_network, hashed_key, is_safe_next, safe_next
from app.throttle import take_in_turn

log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store"}


def options_answer(options_json):
    return Response(options_json, mimetype="application/json", headers=NO_STORE)


def login_limit_per_ip():
    return current_app.config["LOGIN_LIMIT_PER_IP"]


def claimed_credential():
    """The credential id an answer names (untrusted; only what its limits count by)."""
    try:
        raw_id = json.loads(request.form.get("credential", "")[:ceremony.MAX_ANSWER]).get("rawId")
    except (ValueError, AttributeError, RecursionError):
        return ""
    return raw_id[:1400] if isinstance(raw_id, str) else ""


def sign_in_limits():
    """Like a password login's (app.auth.routes): the client address (the same count), then the
    credential from it, then the credential from anywhere."""
    config, credential = current_app.config, hashed_key("passkey", claimed_credential())
    return [
        (config["LOGIN_LIMIT_PER_IP"], client_key(), None),
        (config["LOGIN_LIMIT_PER_USERNAME"], f"login-passkey:{credential}|{client_network()}", None),
        (config["LOGIN_LIMIT_PER_ACCOUNT"], f"login-passkey-account:{credential}", TOO_MANY_FOR_ACCOUNT),
    ]


@bp.post("/passkey/options")
@limiter.limit(login_limit_per_ip, methods=["POST"], key_func=client_key)
def passkey_sign_in_options():
    """Options to sign in with a passkey: no account named, none listed."""
    return options_answer(ceremony.authentication_options(ceremony.SIGN_IN, verify_user=True))


def login_page_with(problem, status, next_url=""):
    form = LoginForm(formdata=None)
    form.next.data = next_url
    return render_template("auth/login.html", form=form, page_error=problem), status


@bp.post("/passkey")
def passkey_sign_in():
    """Sign in with a passkey that verified its user: no password, no code."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.index"))
    take_in_turn(sign_in_limits())
    form = PasskeyForm()
    next_url = form.next.data if is_safe_next(form.next.data) else ""
    if not form.validate_on_submit():
        problems = form.credential.errors or form.form_errors or [_("Please try again.")]
        return login_page_with(problems[0], 400, next_url)
    try:
        user, method = ceremony.check_assertion(form.credential.answer, ceremony.SIGN_IN, verify_user=True)
    except ceremony.Refused as refusal:
        log.info("Passkey sign-in refused: %s", refusal.reason)
        return login_page_with(_(refusal.message), 401, next_url)
    complete_login(user, remember=False)
    events.record(events.LOGIN_SUCCEEDED, user, detail=f"with a passkey ('{method.name}'), without a password")
    flash(_("You are logged in with your passkey."), "success")
    return redirect(safe_next(next_url))


@bp.post("/verify/passkey-options")
@limiter.limit(code_check_limit, methods=["POST"], key_func=client_key)
def second_step_options():
    """Options for the login's second step by passkey: the person's own credentials."""
    pending, user = pending_user_or_restart()
    if pending is None:
        return user
    return passkey_options_for(user, ceremony.SECOND_STEP)


def passkey_options_for(user, which, verify_user=False):
    if not ceremony.credentials_of(user):
        abort(404)
    return options_answer(ceremony.authentication_options(which, user, verify_user=verify_user))


@bp.post("/reauthenticate/code/passkey-options")
@limiter.limit(code_check_limit, methods=["POST"], key_func=client_key)
@login_required
def reauthenticate_step_options():
    """Options for confirming it's you by passkey after the password."""
    if code_step_attempts() is None:
        abort(404)
    return passkey_options_for(current_user, ceremony.SECOND_STEP)


@bp.post("/reauthenticate/passkey-options")
@limiter.limit(code_check_limit, methods=["POST"], key_func=client_key)
@login_required
def reauthenticate_passkey_options():
    """Options for confirming it's you with a passkey alone (it must verify its user)."""
    return passkey_options_for(current_user, ceremony.CONFIRM, verify_user=True)


@bp.post("/reauthenticate/passkey")
@limiter.limit(lambda: current_app.config["REAUTH_LIMIT_PER_USER"], methods=["POST"], key_func=reauth_key)
@login_required
def reauthenticate_with_passkey():
    """Confirm it's you with a passkey alone: it proves the device and its user at once."""
    next_url = request.args.get("next", "")
    form = PasskeyForm()
    problem, status = None, 400
    if form.validate_on_submit():
        try:
            ceremony.check_assertion(form.credential.answer, ceremony.CONFIRM, user=current_user, verify_user=True)
        except ceremony.Refused as refusal:
            log.info("Passkey confirmation refused: %s", refusal.reason)
            problem, status = _(refusal.message), 401
        else:
            return finish_reauthentication(next_url, "with a passkey")
    else:
        problem = (form.credential.errors or form.form_errors or [_("Please try again.")])[0]
    page = render_template("auth/reauthenticate.html", form=PasswordConfirmForm(formdata=None), page_error=problem,
                           **page_context(next_url))
    return page, status
