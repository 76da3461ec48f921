"""Sign up, log in (password, then the code when 2FA is on), log out, and re-authentication."""
from flask import current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from app import events
from app.auth import bp
from app.auth.forms import ActionForm, CodeForm, LoginForm, PasswordConfirmForm, RegistrationForm
from app.auth.pending import PendingLogin
from app.auth.pending import clear as clear_pending_login
from app.auth.session import complete_login, end_session
from app.codes import check_code, code_step_wait, resend_wait, send_code, sent_message
from app.extensions import db, limiter
from app.models import DUMMY_PASSWORD_HASH, User
from app.security import is_safe_next, mark_reauthenticated, safe_next
from app.throttle import Throttled
from app.verification import CheckResult, VerificationError
from werkzeug.security import check_password_hash

LOGIN_FAILED = "Invalid username or password."
LOGIN_EXPIRED = "Your login expired or was not started. Please log in again."
WRONG_CODE = "Incorrect code. Please try again."
CODE_EXPIRED = "The code expired or was already used. Request a new code."
TOO_MANY_CODES = "Too many incorrect codes. Request a new code."
REAUTH_PREFIX = "reauth_"


def username_key():
    return "login-user:" + User.normalize_username(request.form.get("username", ""))[:64]


def render_code_page(template, form, status=200, phone=None, **context):
    response = make_response(
        render_template(template, form=form, actions=ActionForm(), resend_wait=resend_wait(phone) if phone else 0, **context),
        status,
    )
    return response


def error_status(error):
    """Flashes a VerificationError or Throttled and returns the status and headers for its page."""
    if isinstance(error, Throttled):
        flash(error.description, "warning")
        return 429, {"Retry-After": str(error.retry_after_seconds)}
    flash(error.message, "danger")
    return error.status, {}


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Create an account."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.index"))
    form = RegistrationForm()
    if form.validate_on_submit():
        user = User()
        user.set_username(form.username.data)
        user.set_password(form.password.data)
        db.session.add(user)
        db.session.commit()
        events.record(events.SIGNED_UP, user)
        complete_login(user, remember=False)
        flash("Welcome! Your account is ready. You can turn on two-factor authentication below.", "success")
        return redirect(url_for("profile.index"))
    return render_template("auth/register.html", form=form), 400 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_USERNAME"], methods=["POST"], key_func=username_key)
def login():
    """Check the password; with 2FA on, send a code and ask for it before logging in."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    user = User.by_username(form.username.data)
    # Hash the password even for an unknown user, so timing and answers tell nothing.
    password_ok = check_password_hash(user.password_hash if user else DUMMY_PASSWORD_HASH, form.password.data)
    if user is None or not password_ok:
        events.record(events.LOGIN_FAILED, user)
        flash(LOGIN_FAILED, "danger")
        return render_template("auth/login.html", form=form), 401
    next_url = form.next.data if is_safe_next(form.next.data) else ""
    if not user.two_factor_enabled:
        complete_login(user, remember=form.remember_me.data)
        events.record(events.LOGIN_SUCCEEDED, user)
        return redirect(safe_next(next_url))
    events.record(events.PASSWORD_VERIFIED, user)
    PendingLogin.start(user, form.remember_me.data, next_url)
    if code_step_wait(user):
        return redirect(url_for("auth.verify"))
    try:
        flash(sent_message(send_code(user.phone, user)), "info")
    except Throttled:
        flash("A code was sent a moment ago. Enter it below, or request a new one shortly.", "info")
    except VerificationError as error:
        status, headers = error_status(error)
        return render_code_page("auth/verify.html", CodeForm(formdata=None), status, user.phone), headers
    return redirect(url_for("auth.verify"))


def pending_user_or_restart():
    """(pending login, user), or (None, redirect to log in) when there is no usable state."""
    pending = PendingLogin.load()
    user = pending.user() if pending else None
    if user is None:
        clear_pending_login()
        flash(LOGIN_EXPIRED, "warning")
        return None, redirect(url_for("auth.login"))
    return pending, user


def locked_page(template, user, phone):
    wait = code_step_wait(user)
    flash(f"Too many incorrect codes. The code step is locked; try again in {max(1, wait // 60)} minutes.", "danger")
    return render_code_page(template, CodeForm(formdata=None), 429, phone), {"Retry-After": str(wait)}


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CODE_CHECK_LIMIT_PER_IP"], methods=["POST"])
def verify():
    """The second step of login: the code sent to the user's phone."""
    pending, user = pending_user_or_restart()
    if pending is None:
        return user
    form = CodeForm()
    if code_step_wait(user):
        return locked_page("auth/verify.html", user, user.phone)
    if not form.validate_on_submit():
        return render_code_page("auth/verify.html", form, 400 if form.errors else 200, user.phone)
    try:
        result = check_code(user, user.phone, form.code.data)
    except VerificationError as error:
        status, headers = error_status(error)
        return render_code_page("auth/verify.html", form, status, user.phone), headers
    if result is CheckResult.APPROVED:
        complete_login(user, remember=pending.remember)
        events.record(events.LOGIN_SUCCEEDED, user, detail="with a verification code")
        flash("You are logged in.", "success")
        return redirect(safe_next(pending.next))
    if code_step_wait(user):
        clear_pending_login()
        return locked_page("auth/verify.html", user, user.phone)
    if result is CheckResult.WRONG and not pending.count_wrong_code():
        clear_pending_login()
        flash("Too many incorrect codes. Please log in again.", "danger")
        return redirect(url_for("auth.login"))
    if result is CheckResult.WRONG:
        form.code.errors.append(WRONG_CODE)
        return render_code_page("auth/verify.html", form, 401, user.phone)
    flash(CODE_EXPIRED if result is CheckResult.EXPIRED else TOO_MANY_CODES, "warning")
    return render_code_page("auth/verify.html", CodeForm(formdata=None), 400, user.phone)


def resend(channel, template, phone, user, back):
    """Shared by every 'Resend code' and 'Call me instead' button."""
    if not ActionForm().validate_on_submit():
        flash("Your form expired. Please try again.", "warning")
        return redirect(back)
    try:
        flash(sent_message(send_code(phone, user, channel=channel)), "info")
    except (Throttled, VerificationError) as error:
        status, headers = error_status(error)
        return render_code_page(template, CodeForm(formdata=None), status, phone), headers
    return redirect(back)


@bp.route("/verify/resend", methods=["POST"], defaults={"channel": "sms"}, endpoint="resend")
@bp.route("/verify/call", methods=["POST"], defaults={"channel": "call"}, endpoint="call")
def resend_login_code(channel):
    """Send the login code again, by text or by a phone call."""
    pending, user = pending_user_or_restart()
    if pending is None:
        return user
    if code_step_wait(user):
        return locked_page("auth/verify.html", user, user.phone)
    return resend(channel, "auth/verify.html", user.phone, user, url_for("auth.verify"))


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
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/reauthenticate", methods=["GET", "POST"])
@login_required
def reauthenticate():
    """Confirm the password (and the code, with 2FA) before a sensitive change."""
    next_url = request.args.get("next", "")
    form = PasswordConfirmForm()
    if not form.validate_on_submit():
        return render_template("auth/reauthenticate.html", form=form), 400 if form.errors else 200
    if not current_user.check_password(form.password.data):
        events.record(events.LOGIN_FAILED, current_user, detail="re-authentication")
        form.password.errors.append("That password is not correct.")
        return render_template("auth/reauthenticate.html", form=form), 401
    if not current_user.two_factor_enabled:
        return finish_reauthentication(next_url)
    session[REAUTH_PREFIX + "password_ok"] = True
    return send_reauth_code(next_url)


def send_reauth_code(next_url):
    if code_step_wait(current_user):
        return locked_page("auth/reauthenticate_code.html", current_user, current_user.phone)
    try:
        flash(sent_message(send_code(current_user.phone, current_user)), "info")
    except Throttled:
        flash("A code was sent a moment ago. Enter it below, or request a new one shortly.", "info")
    except VerificationError as error:
        status, headers = error_status(error)
        return render_code_page("auth/reauthenticate_code.html", CodeForm(formdata=None), status, current_user.phone), headers
    return redirect(url_for("auth.reauthenticate_code", next=next_url))


def finish_reauthentication(next_url):
    session.pop(REAUTH_PREFIX + "password_ok", None)
    mark_reauthenticated()
    events.record(events.REAUTHENTICATED, current_user)
    return redirect(safe_next(next_url))


@bp.route("/reauthenticate/code", methods=["GET", "POST"])
@login_required
def reauthenticate_code():
    """The code step of re-authentication, for users with 2FA."""
    next_url = request.args.get("next", "")
    if not session.get(REAUTH_PREFIX + "password_ok") or not current_user.two_factor_enabled:
        return redirect(url_for("auth.reauthenticate", next=next_url))
    form = CodeForm()
    phone = current_user.phone
    if code_step_wait(current_user):
        return locked_page("auth/reauthenticate_code.html", current_user, phone)
    if not form.validate_on_submit():
        return render_code_page("auth/reauthenticate_code.html", form, 400 if form.errors else 200, phone)
    try:
        result = check_code(current_user, phone, form.code.data)
    except VerificationError as error:
        status, headers = error_status(error)
        return render_code_page("auth/reauthenticate_code.html", form, status, phone), headers
    if result is CheckResult.APPROVED:
        return finish_reauthentication(next_url)
    if result is CheckResult.WRONG:
        form.code.errors.append(WRONG_CODE)
        return render_code_page("auth/reauthenticate_code.html", form, 401, phone)
    flash(CODE_EXPIRED if result is CheckResult.EXPIRED else TOO_MANY_CODES, "warning")
    return render_code_page("auth/reauthenticate_code.html", CodeForm(formdata=None), 400, phone)


@bp.route("/reauthenticate/resend", methods=["POST"], defaults={"channel": "sms"}, endpoint="reauthenticate_resend")
@bp.route("/reauthenticate/call", methods=["POST"], defaults={"channel": "call"}, endpoint="reauthenticate_call")
@login_required
def resend_reauth_code(channel):
    """Send the re-authentication code again."""
    next_url = request.args.get("next", "")
    if not session.get(REAUTH_PREFIX + "password_ok") or not current_user.two_factor_enabled:
        return redirect(url_for("auth.reauthenticate", next=next_url))
    return resend(channel, "auth/reauthenticate_code.html", current_user.phone, current_user,
                  url_for("auth.reauthenticate_code", next=next_url))
