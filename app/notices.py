"""Notices for people who are not logged in, carried in the login page's address.

Logged-in people get flash messages, kept in their server-side session. Someone who has just logged
out, or whose login ended, has no session to keep one in (anonymous visitors leave no state on the
server, and their signed cookie carries the CSRF token only), so the redirect names a notice from
this fixed list and the login page shows it.
"""
from flask import flash, redirect, request, url_for

from app.i18n import N_, _

NOTICES = {
    "logged-out": ("info", N_("You are logged out.")),
    "session-ended": ("info", N_("Your session has ended. Please log in again.")),
    "browser-changed": ("info", N_("Your session ended because your browser changed. Please log in again.")),
    "login-expired": ("warning", N_("Your login expired or was not started. Please log in again.")),
    "too-many-codes": ("danger", N_("Too many incorrect codes. Please log in again.")),
    "account-deleted": ("info", N_("Your account is deleted.")),
    "password-reset": ("success", N_("Your password is reset, and you are logged out everywhere. "
                                     "Log in with your new password.")),
    "email-confirmed": ("success", N_("Your email address is confirmed.")),
}
LOGIN_NEEDED = ("info", N_("Please log in to see this page."))


def to_login(notice, **params):
    """A redirect to the login page that will show `notice`."""
    assert notice in NOTICES, notice
    return redirect(url_for("auth.login", notice=notice, **params))


def flash_notice():
    """On the login page: the notice its address names, or "log in to see this page" when it was
    reached on the way to another page."""
    notice = NOTICES.get(request.args.get("notice", ""))
    if notice is None and request.args.get("next"):
        notice = LOGIN_NEEDED
    if notice is not None:
        category, message = notice
        flash(_(message), category)
