"""Confirming it's you before a sensitive change: the password, then (with 2FA) a code from one of
the person's methods (the one used last, or another way they choose), or a recovery code for
someone who has lost their phone. The confirmation lasts SUDO_MINUTES.

The code step has attempts of its own, like a pending login: codes and recovery codes share them,
and when they are used up the person starts again with the password.
"""
import secrets
import time
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import HTTPException

from app import events, lost_phone, methods
from app.methods import webauthn
from app.auth import bp
from app.auth.attempts import CodeAttempts
from app.auth.code_step import CodePage
from app.auth.forms import RECOVERY_WAY, AnotherWayForm, PasswordConfirmForm, RecoveryCodeForm
from app.auth.login_code import code_check_limit
from app.auth.recovery_step import (CONFIRMED, LOCKED, NO_TRIES_LEFT, NOT_VALID, USED, use_recovery_code, used_event,
                                    used_message)
from app.codes import code_step_wait
from app.extensions import db, limiter
from app.i18n import N_, _
from app.security import client_key, is_safe_next, mark_reauthenticated, safe_next
from app.verification import CheckResult

PASSWORD_OK = "reauth_password_ok"  # {"id", "at", "way"}: the password is confirmed, a code comes next
# What the page the person is on the way to does, as the whole sentence every step of confirming
# it's you begins with (auth/_reauth_purpose.html adds how long it lasts).
PURPOSES = {
    "profile.enable_2fa": N_("You are confirming it's you to turn on two-factor authentication (2FA)."),
    "profile.add_authenticator": N_("You are confirming it's you to set up an authenticator app."),
    "profile.add_passkey": N_("You are confirming it's you to add a passkey."),
    "profile.rename_passkey": N_("You are confirming it's you to rename a passkey."),
    "profile.remove_method": N_("You are confirming it's you to remove a way to log in."),
    "profile.change_phone": N_("You are confirming it's you to change your phone number."),
    "profile.disable_2fa": N_("You are confirming it's you to turn off two-factor authentication (2FA)."),
    "profile.regenerate_recovery_codes": N_("You are confirming it's you to create new recovery codes."),
    "profile.change_password": N_("You are confirming it's you to change your password."),
    "profile.delete_account": N_("You are confirming it's you to delete your account."),
    "profile.sessions": N_("You are confirming it's you to log out your other browsers."),
    "profile.email": N_("You are confirming it's you to add or change your email address."),
    "profile.remove_email": N_("You are confirming it's you to remove your email address."),
}
ANY_PURPOSE = N_("You are confirming it's you to change your security settings.")


def reauth_key():
    return f"reauth-user:{current_user.id}" if current_user.is_authenticated else client_key()


def purpose_of(next_url):
    """What confirming it's you is for, as a marked sentence: `You are confirming it's you to
    change your phone number.`"""
    if not is_safe_next(next_url):
        return ANY_PURPOSE
    try:
        endpoint, _ = current_app.url_map.bind(request.host).match(urlsplit(next_url).path, method="GET")
    except HTTPException:
        return ANY_PURPOSE
    return PURPOSES.get(endpoint, ANY_PURPOSE)


def page_context(next_url):
    # Asked only by the password page ("Confirm with a passkey instead"): the code pages read nothing for it.
    passkey_alone = lambda: current_user.two_factor_enabled and webauthn.has_passkey(current_user)  # noqa: E731
    return {"purpose": _(purpose_of(next_url)), "minutes": current_app.config["SUDO_MINUTES"], "next_url": next_url,
            "passkey_alone": passkey_alone}


def reauth_step(next_url):
    """The way this confirmation goes (its method and challenge), and its code page."""
    state = session.get(PASSWORD_OK)
    chosen = methods.choose(current_user, state.get("way") if isinstance(state, dict) else None)
    page = CodePage("auth/reauthenticate_code.html", chosen.challenge(), current_user._get_current_object(),
                    other_ways=chosen.has_others, **page_context(next_url))
    return chosen, page


def start_code_step():
    session[PASSWORD_OK] = {"id": secrets.token_urlsafe(16), "at": time.time()}


def choose_way(way):
    session[PASSWORD_OK] = {**session[PASSWORD_OK], "way": way}


def end_code_step():
    if PASSWORD_OK in session:
        session.pop(PASSWORD_OK)


def code_step_attempts():
    """The attempts of the code step under way, or None when the password was not confirmed (or
    not within the life of a code)."""
    state = session.get(PASSWORD_OK)
    if current_user.two_factor_enabled and isinstance(state, dict) and isinstance(state.get("id"), str):
        age = time.time() - state["at"] if isinstance(state.get("at"), (int, float)) else -1
        if 0 <= age <= current_app.config["CODE_TTL"].total_seconds():
            return CodeAttempts("reauth-attempts", state["id"])
    end_code_step()
    return None


def back_to_password(next_url, message=None):
    end_code_step()
    if message:
        flash(message, "danger")
    return redirect(url_for("auth.reauthenticate", next=next_url))


def no_tries_left(next_url):
    return back_to_password(next_url, _("Too many incorrect codes. Enter your password again to get a new code."))


def finish_reauthentication(next_url, how="", also=()):
    """The person is confirmed; the event and `also` (events of the same step) in one statement."""
    end_code_step()
    mark_reauthenticated()
    events.record_all([*also, (events.REAUTHENTICATED, how)], current_user)
    return redirect(safe_next(next_url))


@bp.route("/reauthenticate", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REAUTH_LIMIT_PER_USER"], methods=["POST"], key_func=reauth_key)
@login_required
def reauthenticate():
    """Confirm the password (and the code, with 2FA) before a sensitive change."""
    next_url = request.args.get("next", "")
    form = PasswordConfirmForm()
    if not form.validate_on_submit():
        return render_template("auth/reauthenticate.html", form=form, **page_context(next_url)), 400 if form.errors else 200
    if not current_user.check_password(form.password.data):
        events.record(events.LOGIN_FAILED, current_user, detail="while confirming it's you")
        form.password.errors.append(_("That password is not correct."))
        return render_template("auth/reauthenticate.html", form=form, **page_context(next_url)), 401
    if not current_user.two_factor_enabled:
        return finish_reauthentication(next_url)  # its event's commit writes a hash made anew too
    if db.session.is_modified(current_user._get_current_object()):
        db.session.commit()  # the password's hash was made anew; the code step may write nothing
    start_code_step()
    chosen, page = reauth_step(next_url)  # the method used last
    choose_way(chosen.way.key)
    then = url_for("auth.reauthenticate_code", next=next_url)
    # Whatever the send answers, the code page comes next: it offers a recovery code too.
    return page.send_first(current_user, then=then, render_errors=False)


@bp.route("/reauthenticate/code", methods=["GET", "POST"])
@limiter.limit(code_check_limit, methods=["POST"], key_func=client_key)
@login_required
def reauthenticate_code():
    """The code step of re-authentication, for users with 2FA."""
    next_url = request.args.get("next", "")
    attempts = code_step_attempts()
    if attempts is None:
        return back_to_password(next_url)
    user = current_user._get_current_object()
    chosen, page = reauth_step(next_url)
    result, response = page.submit(
        page.form(), user, take_attempt=attempts.take, exhausted=lambda: no_tries_left(next_url),
        tries_left=attempts.left)
    if response is None:
        methods.mark_used(getattr(page.challenge, "answered_by", None) or chosen.method)
        return finish_reauthentication(next_url, getattr(page.challenge, "how", "with a code"))
    if result is not None and code_step_wait(user):
        end_code_step()
    elif result is CheckResult.WRONG and attempts.left() == 0:
        return no_tries_left(next_url)
    return response


@bp.route("/reauthenticate/recovery", methods=["GET", "POST"])
@limiter.limit(code_check_limit, methods=["POST"], key_func=client_key)
@login_required
def reauthenticate_recovery():
    """The code step of re-authentication with a recovery code, for someone without their phone."""
    next_url = request.args.get("next", "")
    attempts = code_step_attempts()
    if attempts is None:
        return back_to_password(next_url)
    user = current_user._get_current_object()
    if code_step_wait(user):
        return reauth_step(next_url)[1].locked(user)
    form = RecoveryCodeForm()
    form.submit.label.text = _("Confirm")
    if not form.validate_on_submit():
        return render_template("auth/reauthenticate_recovery.html", form=form, **page_context(next_url)), \
            400 if form.errors else 200
    outcome, left = use_recovery_code(user, form.code.data, attempts)
    if outcome == LOCKED:
        end_code_step()
        return reauth_step(next_url)[1].locked(user)
    if outcome == NO_TRIES_LEFT:
        return no_tries_left(next_url)
    if outcome != USED:
        form.code.errors.append(_(NOT_VALID))
        return render_template("auth/reauthenticate_recovery.html", form=form, **page_context(next_url)), 401
    lost_phone.note_recovery_code_used()
    flash(*used_message(left, CONFIRMED))
    return finish_reauthentication(next_url, "with a recovery code", also=[used_event(left, "to confirm it's you")])


@bp.route("/reauthenticate/resend", methods=["POST"], defaults={"channel": "sms"}, endpoint="reauthenticate_resend")
@bp.route("/reauthenticate/call", methods=["POST"], defaults={"channel": "call"}, endpoint="reauthenticate_call")
@bp.route("/reauthenticate/whatsapp", methods=["POST"], defaults={"channel": "whatsapp"},
          endpoint="reauthenticate_whatsapp")
@login_required
def resend_reauth_code(channel):
    """Send the re-authentication code again, by text, a phone call or WhatsApp."""
    next_url = request.args.get("next", "")
    if code_step_attempts() is None:
        return back_to_password(next_url)
    back = url_for("auth.reauthenticate_code", next=next_url)
    return reauth_step(next_url)[1].resend(current_user, channel, back)


@bp.route("/reauthenticate/another", methods=["GET", "POST"])
@login_required
def reauthenticate_another_way():
    """"Use another way" to confirm it's you: every way the person's methods offer, and a recovery code."""
    next_url = request.args.get("next", "")
    if code_step_attempts() is None:
        return back_to_password(next_url)
    state = session.get(PASSWORD_OK)
    form = AnotherWayForm.of(methods.every_way(current_user, state.get("way") if isinstance(state, dict) else None))
    if not form.validate_on_submit():
        page = render_template("auth/another_way.html", form=form,
                               back=url_for("auth.reauthenticate_code", next=next_url))
        return page, 400 if form.errors else 200
    if form.way.data == RECOVERY_WAY:
        return redirect(url_for("auth.reauthenticate_recovery", next=next_url))
    choose_way(form.way.data)
    then = url_for("auth.reauthenticate_code", next=next_url)
    return reauth_step(next_url)[1].send_first(current_user, then=then, render_errors=False)
