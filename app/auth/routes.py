"""Sign up, log in (the password; the code step is in login_code), log out."""
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.security import check_password_hash

from app import devices, events
from app.auth import bp
from app.auth.forms import ActionForm, LoginForm, RegistrationForm
from app.auth.login_code import login_code_page
from app.auth.pending import PendingLogin
from app.auth.session import complete_login, end_session
from app.extensions import db, limiter
from app.models import User, dummy_password_hash
from app.notices import flash_notice, to_login
from app.security import client_key, client_network, is_safe_next, safe_next

LOGIN_FAILED = "Invalid username or password."
TOO_MANY_FOR_ACCOUNT = "Too many login attempts for this account. Please wait a minute and try again."


def typed_username():
    return User.normalize_username(request.form.get("username", ""))[:64]


def username_and_address_key():
    """Guesses at one username from one address: a stranger elsewhere can't use up the owner's."""
    return f"login-user:{typed_username()}|{client_network()}"


def username_key():
    """Guesses at one username from anywhere: a slower limit that only ever asks for a short wait."""
    return "login-account:" + typed_username()


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


@bp.get("/login")
def login_page():
    """The login form, carrying `next` for after the login. A route of its own, without the rate
    limits' decorators (they count POSTs only): the most visited page pays nothing for them."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.index"))
    form = LoginForm()
    form.next.data = request.args.get("next", "")
    flash_notice()
    return render_template("auth/login.html", form=form)


@bp.post("/login")
@limiter.limit(config("LOGIN_LIMIT_PER_IP"), key_func=client_key)
@limiter.limit(config("LOGIN_LIMIT_PER_USERNAME"), key_func=username_and_address_key)
@limiter.limit(config("LOGIN_LIMIT_PER_ACCOUNT"), key_func=username_key, error_message=TOO_MANY_FOR_ACCOUNT)
def login():
    """Check the password; with 2FA on, send a code and ask for it before logging in."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.index"))
    form = LoginForm()
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
