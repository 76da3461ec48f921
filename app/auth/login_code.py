"""The second step of login: a code from one of the person's methods (the one used last, or the
one chosen under "Use another way"), or a recovery code instead."""
from flask import current_app, flash, redirect, render_template, url_for

from app import devices, events, lost_phone, methods
from app.auth import bp
from app.auth.code_step import CodePage
from app.auth.forms import RECOVERY_WAY, AnotherWayForm, LoginCodeForm, RecoveryCodeForm
from app.auth.pending import PendingLogin
from app.auth.pending import clear as clear_pending_login
from app.auth.recovery_step import (LOCKED, LOGGED_IN, NO_TRIES_LEFT, NOT_VALID, USED, use_recovery_code, used_event,
                                    used_message)
from app.auth.session import complete_login
from app.codes import code_step_wait
from app.extensions import limiter
from app.i18n import _
from app.notices import to_login
from app.security import client_key, safe_next
from app.verification import CheckResult


def code_check_limit():
    return current_app.config["CODE_CHECK_LIMIT_PER_IP"]


def login_step(user, pending):
    """The way this login goes (its method and challenge), and its code page."""
    chosen = methods.choose(user, pending.way)
    return chosen, CodePage("auth/verify.html", chosen.challenge(), user, other_ways=chosen.has_others)


def pending_user_or_restart():
    """(pending login, user), or (None, redirect to log in) when there is no usable state."""
    pending = PendingLogin.load()
    user = pending.user() if pending else None
    if user is None:
        clear_pending_login()
        return None, to_login("login-expired")
    return pending, user


def void_login():
    """Too many wrong codes for this login: it ends, and the person starts again."""
    clear_pending_login()
    return to_login("too-many-codes")


def finish_two_factor_login(user, pending, how, also=()):
    """Logs the user in; the login's event and `also` (events of the same step) in one statement."""
    complete_login(user, remember=pending.remember)
    events.record_all([*also, (events.LOGIN_SUCCEEDED, how)], user)
    return redirect(safe_next(pending.next))


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit(code_check_limit, methods=["POST"], key_func=client_key)
def verify():
    """The second step of login: the code sent to the user's phone."""
    pending, user = pending_user_or_restart()
    if pending is None:
        return user
    chosen, page = login_step(user, pending)
    form = page.form(LoginCodeForm)
    result, response = page.submit(
        form, user, take_attempt=pending.take_attempt, exhausted=void_login, tries_left=pending.attempts_left)
    if response is None:
        methods.mark_used(getattr(page.challenge, "answered_by", None) or chosen.method)
        remember_device = form.remember_device.data
        trusted = [(events.DEVICE_TRUSTED, "")] if remember_device else []
        response = finish_two_factor_login(user, pending, getattr(page.challenge, "how", "with a code"), also=trusted)
        flash(_("You are logged in."), "success")
        if remember_device:
            devices.remember(user, response)
        return response
    if result is not None and code_step_wait(user):
        clear_pending_login()  # this very code locked the step: the person starts again later
    elif result is CheckResult.WRONG and pending.attempts_left() == 0:
        return void_login()
    return response


@bp.route("/verify/resend", methods=["POST"], defaults={"channel": "sms"}, endpoint="resend")
@bp.route("/verify/call", methods=["POST"], defaults={"channel": "call"}, endpoint="call")
@bp.route("/verify/whatsapp", methods=["POST"], defaults={"channel": "whatsapp"}, endpoint="whatsapp")
def resend_login_code(channel):
    """Send the login code again, by text, a phone call or WhatsApp."""
    pending, user = pending_user_or_restart()
    if pending is None:
        return user
    return login_step(user, pending)[1].resend(user, channel, url_for("auth.verify"))


@bp.route("/verify/another", methods=["GET", "POST"])
def another_way():
    """"Use another way": every way the person's methods offer, and a recovery code."""
    pending, user = pending_user_or_restart()
    if pending is None:
        return user
    form = AnotherWayForm.of(methods.every_way(user, pending.way))
    if not form.validate_on_submit():
        page = render_template("auth/another_way.html", form=form, back=url_for("auth.verify"))
        return page, 400 if form.errors else 200
    if form.way.data == RECOVERY_WAY:
        return redirect(url_for("auth.recovery_login"))
    pending.way = form.way.data
    pending.save()
    return login_step(user, pending)[1].send_first(user, then=url_for("auth.verify"), render_errors=False)


@bp.route("/recovery", methods=["GET", "POST"])
@limiter.limit(code_check_limit, methods=["POST"], key_func=client_key)
def recovery_login():
    """The second step of login with a one-time recovery code instead of a text."""
    pending, user = pending_user_or_restart()
    if pending is None:
        return user
    if code_step_wait(user):
        return login_step(user, pending)[1].locked(user)
    form = RecoveryCodeForm()
    if not form.validate_on_submit():
        return render_template("auth/recovery.html", form=form), 400 if form.errors else 200
    outcome, left = use_recovery_code(user, form.code.data, pending.attempts())
    if outcome == LOCKED:
        clear_pending_login()
        return login_step(user, pending)[1].locked(user)
    if outcome == NO_TRIES_LEFT:
        return void_login()
    if outcome != USED:
        form.code.errors.append(_(NOT_VALID))
        return render_template("auth/recovery.html", form=form), 401
    response = finish_two_factor_login(user, pending, "with a recovery code", also=[used_event(left)])
    lost_phone.note_recovery_code_used()
    flash(*used_message(left, LOGGED_IN))
    return response
