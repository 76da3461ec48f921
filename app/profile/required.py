"""REQUIRE_TWO_FACTOR=1: an organisation's rule that every account has a second factor.

Someone logged in without a method can reach only what sets one up (the phone or an authenticator
app, confirming it's you on the way), the recovery codes that finish it, logging out and the static
files; any other page sends them to "Set up two-factor authentication". With a method on, the last
one can't be removed or turned off."""
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.i18n import N_, _
from app.profile import bp

REQUIRED = N_("Your organisation requires two-factor authentication, so your last way to log in can't be removed.")
SETTING_UP = {
    "static", "bootstrap.static", "auth.logout", "auth.reauthenticate", "profile.two_factor_required",
    "profile.enable_2fa", "profile.confirm_2fa", "profile.confirm_resend", "profile.confirm_call",
    "profile.confirm_whatsapp", "profile.add_authenticator", "profile.recovery_codes",
    "profile.recovery_codes_download", "profile.add_passkey", "profile.passkey_options",
}


def required():
    return current_app.config["REQUIRE_TWO_FACTOR"]


@bp.before_app_request
def set_up_two_factor_first():
    """Sends someone logged in without a method to set one up, when the organisation requires it."""
    if not required() or request.endpoint in SETTING_UP or not current_user.is_authenticated:
        return None
    if current_user.two_factor_enabled:
        return None
    return redirect(url_for("profile.two_factor_required"))


@bp.route("/2fa/required")
@login_required
def two_factor_required():
    """The one page of an account without a second factor, where one is required."""
    if current_user.two_factor_enabled or not required():
        return redirect(url_for("profile.index"))
    return render_template("profile/required.html")


def refuse_last_method():
    """A redirect with the reason, when removing the last method is not allowed; else None."""
    if required() and current_user.method_count <= 1:
        flash(_(REQUIRED), "warning")
        return redirect(url_for("profile.index"))
    return None
