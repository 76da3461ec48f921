"""Pages reached from mail: "Forgot your password?" and the link it sends, and the link that
confirms an email address. Each link is a GET that shows a form and a POST that uses it (mail
scanners that open links must not use them up)."""
import logging

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app import devices, emails, password_reset
from app.auth import bp
from app.auth.forms import ConfirmEmailForm, ForgotPasswordForm, ResetPasswordForm
from app.auth.session import end_session
from app.i18n import N_, _
from app.mail import enabled as mail_enabled
from app.notices import to_login
from app.security import client_network, hashed_key
from app.throttle import Throttled, take_in_turn

log = logging.getLogger(__name__)

TOO_MANY_RESETS = N_("Too many requests to reset a password.")
LINK_EXPIRED = N_("This link has expired or was already used. Ask for a new one.")


def typed_account():
    return request.form.get("username", "").strip().casefold()[:254]


def reset_request_limits():
    """Requests from one client address, then for one typed name or address from it: a
    stranger's flood fills their own limits. Typed values are keyed by their HMAC."""
    config, network, refused = current_app.config, client_network(), _(TOO_MANY_RESETS)
    return [
        (config["RESET_LIMIT_PER_IP"], f"reset-ip:{network}", refused),
        (config["RESET_LIMIT_PER_ADDRESS"], f"reset-typed:{hashed_key('reset', typed_account())}|{network}",
         refused),
    ]


def account_allows_another_link(user):
    """Links to one account from anywhere (only what the limits above let through). Never said
    on the page, which would tell that the account exists: the mail is just not sent. The owner's
    remembered browser is never refused."""
    if devices.remembered(user):
        return True
    try:
        take_in_turn([(current_app.config["RESET_LIMIT_PER_ACCOUNT"], f"reset-account:{user.id}", None)])
    except Throttled:
        log.info("Password reset link not sent: RESET_LIMIT_PER_ACCOUNT reached for user %s", user.id)
        return False
    return True


def link_expired(again_url):
    return render_template("auth/link_expired.html", message=_(LINK_EXPIRED), again_url=again_url), 400


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    """Ask for a link to reset the password; the answer is the same whatever was typed."""
    if not mail_enabled():
        return render_template("auth/forgot_password_off.html")
    if request.method == "POST":
        take_in_turn(reset_request_limits())
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/forgot_password.html", form=form), 400 if form.errors else 200
    user = password_reset.find_account(form.username.data)
    if user is not None and account_allows_another_link(user):
        password_reset.send_link(user)
    return redirect(url_for("auth.reset_link_sent"))


@bp.get("/forgot-password/sent")
def reset_link_sent():
    """What every request for a link is answered with."""
    return render_template("auth/reset_link_sent.html", minutes=int(password_reset.LIFETIME.total_seconds() // 60))


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password():
    """The link's page: a new password, typed twice."""
    form = ResetPasswordForm()
    token = form.token.data if request.method == "POST" else request.args.get("token", "")
    if not mail_enabled() or password_reset.user_for(token) is None:
        return link_expired(url_for("auth.forgot_password"))
    form.token.data = token
    if not form.validate_on_submit():
        page = render_template("auth/reset_password.html", form=form)
        return page, 400 if form.errors else 200, {"Cache-Control": "no-store"}
    if password_reset.reset(token, form.password.data) is None:
        return link_expired(url_for("auth.forgot_password"))
    if current_user.is_authenticated:
        end_session()
    return to_login("password-reset")


@bp.route("/confirm-email", methods=["GET", "POST"])
def confirm_email():
    """The link that confirms an email address: shows the address, and a button that confirms it."""
    form = ConfirmEmailForm()
    token = form.token.data if request.method == "POST" else request.args.get("token", "")
    again_url = url_for("profile.email")
    pending = emails.pending_confirmation(token) if mail_enabled() else None
    if pending is None:
        return link_expired(again_url)
    form.token.data = token
    if not form.validate_on_submit():
        page = render_template("auth/confirm_email.html", form=form, address=pending.address)
        return page, 400 if form.errors else 200, {"Cache-Control": "no-store"}
    user = emails.confirm(token)
    if user is None:
        return link_expired(again_url)
    if current_user.is_authenticated and current_user.id == user.id:
        flash(_("Your email address is confirmed: %(address)s.", address=user.email), "success")
        return redirect(url_for("profile.index"))
    return to_login("email-confirmed")
