"""Sign up, log in (password, then the code when 2FA is on), log out, and re-authentication."""
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.security import check_password_hash

from app import devices, events, recovery
from app.auth import bp
from app.auth.code_step import CodePage
from app.auth.forms import ActionForm, CodeForm, LoginCodeForm, LoginForm, PasswordConfirmForm, RecoveryCodeForm, RegistrationForm
from app.auth.pending import PendingLogin
from app.auth.pending import clear as clear_pending_login
from app.auth.session import complete_login, end_session
from app.codes import code_step_wait, record_wrong_code
from app.extensions import db, limiter
from app.models import User, dummy_password_hash
from app.notices import flash_notice, to_login
from app.security import client_network, is_safe_next, mark_reauthenticated, safe_next
from app.verification import CheckResult

LOGIN_FAILED = "Invalid username or password."
REAUTH_PASSWORD_OK = "reauth_password_ok"
TOO_MANY_FOR_ACCOUNT = "Too many login attempts for this account. Please wait a minute and try again."


def client_key():
    return "ip:" + client_network()


def typed_username():
    return User.normalize_username(request.form.get("username", ""))[:64]


def username_and_address_key():
    """Guesses at one username from one address: a stranger elsewhere can't use up the owner's."""
    return f"login-user:{typed_username()}|{client_network()}"


def username_key():
    """Guesses at one username from anywhere: a slower limit that only ever asks for a short wait."""
    return "login-account:" + typed_username()


def reauth_key():
    return f"reauth-user:{current_user.id}" if current_user.is_authenticated else client_key()


def config(name):
    return lambda: current_app.config[name]


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(config("SIGNUP_LIMIT_PER_IP"), methods=["POST"], key_func=client_key)
@limiter.limit(config("SIGNUP_LIMIT_GLOBAL"), methods=["POST"], key_func=lambda: "signup-all")
def register():
    """Create an account."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.index"))
    form = RegistrationForm()
    if not form.validate_on_submit():
        return render_template("auth/register.html", form=form), 400 if form.errors else 200
    user = User()
    user.set_username(form.username.data)
    user.set_password(form.password.data)
    db.session.add(user)
    db.session.commit()
    events.record(events.SIGNED_UP, user)
    complete_login(user, remember=False)
    flash("Welcome! Your account is ready. You can turn on two-factor authentication below.", "success")
    return redirect(url_for("profile.index"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(config("LOGIN_LIMIT_PER_IP"), methods=["POST"], key_func=client_key)
@limiter.limit(config("LOGIN_LIMIT_PER_USERNAME"), methods=["POST"], key_func=username_and_address_key)
@limiter.limit(config("LOGIN_LIMIT_PER_ACCOUNT"), methods=["POST"], key_func=username_key,
               error_message=TOO_MANY_FOR_ACCOUNT)
def login():
    """Check the password; with 2FA on, send a code and ask for it before logging in."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        flash_notice()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    user = User.by_username(form.username.data)
    # Hash the password even for an unknown user, so timing and answers tell nothing.
    password_ok = check_password_hash(user.password_hash if user else dummy_password_hash(), form.password.data)
    if user is None or not password_ok:
        events.record(events.LOGIN_FAILED, user)
        form.form_errors.append(LOGIN_FAILED)  # one answer for both fields: which was wrong stays unsaid
        return render_template("auth/login.html", form=form), 401
    next_url = form.next.data if is_safe_next(form.next.data) else ""
    if not user.two_factor_enabled or devices.recognised(user):
        complete_login(user, remember=form.remember_me.data)
        detail = "on a remembered browser" if user.two_factor_enabled else ""
        events.record(events.LOGIN_SUCCEEDED, user, detail=detail)
        return redirect(safe_next(next_url))
    events.record(events.PASSWORD_VERIFIED, user)
    PendingLogin.start(user, form.remember_me.data, next_url)
    return login_code_page(user).send_first(user, then=url_for("auth.verify"))


def login_code_page(user):
    return CodePage("auth/verify.html", user.phone, user)


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


def finish_two_factor_login(user, pending, how):
    complete_login(user, remember=pending.remember)
    events.record(events.LOGIN_SUCCEEDED, user, detail=how)
    return redirect(safe_next(pending.next))


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit(config("CODE_CHECK_LIMIT_PER_IP"), methods=["POST"], key_func=client_key)
def verify():
    """The second step of login: the code sent to the user's phone."""
    pending, user = pending_user_or_restart()
    if pending is None:
        return user
    form = LoginCodeForm()
    result, response = login_code_page(user).submit(form, user, take_attempt=pending.take_attempt, exhausted=void_login)
    if response is None:
        remember_device = form.remember_device.data
        response = finish_two_factor_login(user, pending, "with a code")
        flash("You are logged in.", "success")
        if remember_device:
            devices.remember(user, response)
            events.record(events.DEVICE_TRUSTED, user)
        return response
    if result is not None and code_step_wait(user):
        clear_pending_login()  # this very code locked the step: the person starts again later
    elif result is CheckResult.WRONG and pending.attempts_left() == 0:
        return void_login()
    return response


@bp.route("/verify/resend", methods=["POST"], defaults={"channel": "sms"}, endpoint="resend")
@bp.route("/verify/call", methods=["POST"], defaults={"channel": "call"}, endpoint="call")
def resend_login_code(channel):
    """Send the login code again, by text or by a phone call."""
    pending, user = pending_user_or_restart()
    if pending is None:
        return user
    return login_code_page(user).resend(user, channel, url_for("auth.verify"))


@bp.route("/recovery", methods=["GET", "POST"])
@limiter.limit(config("CODE_CHECK_LIMIT_PER_IP"), methods=["POST"], key_func=client_key)
def recovery_login():
    """The second step of login with a one-time recovery code instead of a text."""
    pending, user = pending_user_or_restart()
    if pending is None:
        return user
    if code_step_wait(user):
        return login_code_page(user).locked(user)
    form = RecoveryCodeForm()
    if not form.validate_on_submit():
        return render_template("auth/recovery.html", form=form), 400 if form.errors else 200
    if pending.take_attempt() is None:
        return void_login()
    if not recovery.use(user, form.code.data):
        record_wrong_code(user, kind=events.RECOVERY_CODE_FAILED)
        if code_step_wait(user):
            clear_pending_login()
            return login_code_page(user).locked(user)
        if pending.attempts_left() == 0:
            return void_login()
        form.code.errors.append("That recovery code is not valid or was already used.")
        return render_template("auth/recovery.html", form=form), 401
    user.reset_code_failures()
    left = recovery.remaining(user)
    events.record(events.RECOVERY_CODE_USED, user, detail=f"{left} left")
    response = finish_two_factor_login(user, pending, "with a recovery code")
    flash(f"You are logged in with a recovery code. You have {left} left.", "warning" if left <= recovery.LOW_WARNING else "success")
    return response


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """End the session on the server and in the browser."""
    if not ActionForm().validate_on_submit():
        flash("Your form expired. Please try again.", "warning")
        return redirect(url_for("profile.index"))
    user = current_user._get_current_object()
    end_session()
    events.record(events.LOGGED_OUT, user)
    return to_login("logged-out")


def reauth_code_page(next_url):
    return CodePage("auth/reauthenticate_code.html", current_user.phone, current_user, next_url=next_url)


@bp.route("/reauthenticate", methods=["GET", "POST"])
@limiter.limit(config("REAUTH_LIMIT_PER_USER"), methods=["POST"], key_func=reauth_key)
@login_required
def reauthenticate():
    """Confirm the password (and the code, with 2FA) before a sensitive change."""
    next_url = request.args.get("next", "")
    form = PasswordConfirmForm()
    if not form.validate_on_submit():
        return render_template("auth/reauthenticate.html", form=form), 400 if form.errors else 200
    if not current_user.check_password(form.password.data):
        events.record(events.LOGIN_FAILED, current_user, detail="while confirming it's you")
        form.password.errors.append("That password is not correct.")
        return render_template("auth/reauthenticate.html", form=form), 401
    if not current_user.two_factor_enabled:
        return finish_reauthentication(next_url)
    session[REAUTH_PASSWORD_OK] = True
    then = url_for("auth.reauthenticate_code", next=next_url)
    return reauth_code_page(next_url).send_first(current_user, then=then)


def finish_reauthentication(next_url):
    session.pop(REAUTH_PASSWORD_OK, None)
    mark_reauthenticated()
    events.record(events.REAUTHENTICATED, current_user)
    return redirect(safe_next(next_url))


@bp.route("/reauthenticate/code", methods=["GET", "POST"])
@login_required
def reauthenticate_code():
    """The code step of re-authentication, for users with 2FA."""
    next_url = request.args.get("next", "")
    if not session.get(REAUTH_PASSWORD_OK) or not current_user.two_factor_enabled:
        return redirect(url_for("auth.reauthenticate", next=next_url))
    result, response = reauth_code_page(next_url).submit(CodeForm(), current_user)
    return response or finish_reauthentication(next_url)


@bp.route("/reauthenticate/resend", methods=["POST"], defaults={"channel": "sms"}, endpoint="reauthenticate_resend")
@bp.route("/reauthenticate/call", methods=["POST"], defaults={"channel": "call"}, endpoint="reauthenticate_call")
@login_required
def resend_reauth_code(channel):
    """Send the re-authentication code again."""
    next_url = request.args.get("next", "")
    if not session.get(REAUTH_PASSWORD_OK) or not current_user.two_factor_enabled:
        return redirect(url_for("auth.reauthenticate", next=next_url))
    back = url_for("auth.reauthenticate_code", next=next_url)
    return reauth_code_page(next_url).resend(current_user, channel, back)
