"""Sign up, log in (the password; the code step is in login_code), log out."""
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app import devices, emails, events, passwords
from app.auth import bp
from app.auth.forms import ActionForm, LoginForm, RegistrationForm
from app.auth.login_code import login_step
from app.auth.pending import PendingLogin
from app.auth.session import complete_login, end_session
from app.extensions import db
from app.i18n import N_, _
from app.models import User
from app.notices import flash_notice, to_login
from app.security import client_key, client_network, hashed_key, is_safe_next, safe_next
from app.throttle import take_in_turn

LOGIN_FAILED = N_("Invalid username or password.")
# Translated where it is shown (app.throttle.take_in_turn).
TOO_MANY_FOR_ACCOUNT = N_("Too many login attempts for this account. Please wait a minute and try again.")


def typed_username():
    return User.normalize_username(request.form.get("username", ""))[:64]


def narrow_login_limits():
    """Logins from one client address, then guesses at one username from it: what a stranger
    somewhere else sends can't use these up for the owner."""
    config, network = current_app.config, client_network()
    return [
        (config["LOGIN_LIMIT_PER_IP"], client_key(), None),
        (config["LOGIN_LIMIT_PER_USERNAME"], f"login-user:{hashed_key('username', typed_username())}|{network}", None),
    ]


def account_login_limit():
    """Guesses at one username from anywhere: counted only for the guesses that the narrow limits
    let through, and only ever a short wait (LOGIN_LIMIT_PER_ACCOUNT)."""
    key = "login-account:" + hashed_key("username", typed_username())
    return [(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key, TOO_MANY_FOR_ACCOUNT)]


def signup_limits():
    """Sign-ups from one client address, then for the whole site: one address fills its own."""
    config = current_app.config
    return [(config["SIGNUP_LIMIT_PER_IP"], client_key(), None), (config["SIGNUP_LIMIT_GLOBAL"], "signup-all", None)]


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Create an account."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.index"))
    if request.method == "POST":
        take_in_turn(signup_limits())
    form = RegistrationForm()
    if not form.validate_on_submit():
        return render_template("auth/register.html", form=form), 400 if form.errors else 200
    user = User()
    user.set_username(form.username.data)
    user.set_password(form.password.data)
    db.session.add(user)
    db.session.commit()
    address = form.email.address if "email" in form else None
    if address:
        emails.start_confirmation(user, address)  # committed with the event below
    events.record(events.SIGNED_UP, user)
    complete_login(user, remember=False)
    flash(_("Welcome! Your account is ready. You can turn on two-factor authentication below."), "success")
    if address:
        flash(_("We sent a link to %(address)s. Open it within 24 hours to confirm your email address.",
                address=address), "info")
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
def login():
    """Check the password; with 2FA on, send a code and ask for it before logging in."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.index"))
    take_in_turn(narrow_login_limits())
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    user = User.by_username(form.username.data)
    if user is None or not devices.remembered(user):  # the owner's remembered browser is never refused
        take_in_turn(account_login_limit())
    # Hash the password even for an unknown user, so timing and answers tell nothing. A right
    # password on an old hash makes it anew: the event's commit below writes it.
    if user is not None:
        password_ok = user.check_password(form.password.data)
    else:
        password_ok = passwords.verify_password(passwords.dummy_password_hash(), form.password.data)
    if user is None or not password_ok:
        events.record(events.LOGIN_FAILED, user)
        form.form_errors.append(_(LOGIN_FAILED))  # one answer for both fields: which was wrong stays unsaid
        return render_template("auth/login.html", form=form), 401
    next_url = form.next.data if is_safe_next(form.next.data) else ""
    if not user.two_factor_enabled or devices.recognised(user):
        complete_login(user, remember=form.remember_me.data)
        detail = "on a remembered browser" if user.two_factor_enabled else ""
        events.record(events.LOGIN_SUCCEEDED, user, detail=detail)
        return redirect(safe_next(next_url))
    events.record(events.PASSWORD_VERIFIED, user)
    pending = PendingLogin.start(user, form.remember_me.data, next_url)
    chosen, page = login_step(user, pending)  # the method used last
    pending.way = chosen.way.key
    pending.save()
    return page.send_first(user, then=url_for("auth.verify"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """End the session on the server and in the browser."""
    if not ActionForm().validate_on_submit():
        flash(_("Your form expired. Please try again."), "warning")
        return redirect(url_for("profile.index"))
    user = current_user._get_current_object()
    end_session()
    events.record(events.LOGGED_OUT, user)
    return to_login("logged-out")
