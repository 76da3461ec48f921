"""Where you're logged in: the account's live sessions, "Log out" on each other one, and "Log out
everywhere else". Ending sessions needs the login, or a re-authentication, of the last
SUDO_MINUTES: a cookie copied long ago can't throw its owner out."""
from flask import abort, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from app import devices, events, live_sessions
from app.auth.forms import ActionForm
from app.i18n import _
from app.profile import bp
from app.security import recently_logged_in_or_reauthenticated


@bp.route("/sessions")
@login_required
def sessions():
    """One row per logged-in session: browser, network, when it started and was last seen."""
    return render_template(
        "profile/sessions.html",
        sessions=live_sessions.listed(current_user, session),
        actions=ActionForm(),
        browser_words=devices.in_words,
    )


def refused():
    """The answer when the form expired or it's time to confirm it's you, else None."""
    if not ActionForm().validate_on_submit():
        flash(_("Your form expired. Please try again."), "warning")
        return redirect(url_for("profile.sessions"))
    if not recently_logged_in_or_reauthenticated():
        flash(_("Please confirm it's you to continue."), "info")
        return redirect(url_for("auth.reauthenticate", next=url_for("profile.sessions")))
    return None


@bp.route(f"/sessions/<string(length={live_sessions.REF_LENGTH}):ref>/end", methods=["POST"])
@login_required
def end_session(ref):
    """Log out one other session of this account; any other address is a 404 that ends nothing."""
    answer = refused()
    if answer:
        return answer
    found = live_sessions.find(current_user, session, ref)
    if found is None or found.this_browser:
        abort(404)
    current_app.session_interface.end_listed(current_user.id, found.key)
    events.record(events.SESSION_ENDED, current_user, detail=f"{found.browser}, {found.network}")
    flash(_("Logged out: %(browser)s, %(network)s.", browser=devices.in_words(found.browser),
            network=devices.in_words(found.network)), "success")
    return redirect(url_for("profile.sessions"))


@bp.route("/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():
    """Log out every other session of this account (pending logins too), keeping this one."""
    answer = refused()
    if answer:
        return answer
    ended = current_app.session_interface.end_for_user(current_user.id, except_session=session._get_current_object())
    if ended:
        events.record(events.SESSIONS_REVOKED, current_user, detail=str(ended))
        flash(_("You are logged out everywhere else."), "success")
    else:
        flash(_("You weren't logged in anywhere else."), "info")
    return redirect(url_for("profile.sessions"))
