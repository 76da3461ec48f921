"""Setting up an authenticator app: a new key shown as a QR code, as text and as a link, and one
code from the app to confirm it. The key waits for that code in the session, encrypted, for the
life of a code (10 minutes); it is never in a cookie, a log line or an event."""
import time

import sqlalchemy as sa
from flask import current_app, redirect, render_template, session, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError

from app import encryption
from app.extensions import db, limiter
from app.i18n import N_, _
from app.methods.totp import lookup_of, new_method, rules
from app.methods.totp.forms import AuthenticatorSetupForm
from app.models import TwoFactorMethod
from app.profile import bp
from app.profile.methods import add
from app.security import client_key, sudo_required

PENDING = "authenticator_setup"  # {"secret": encrypted key, "at": when it was made}
NO_STORE = {"Cache-Control": "no-store"}
WRONG_CODE = N_("That code doesn't match. Check that your phone's clock is right, then enter the code the app shows "
                "now.")


def pending_secret():
    """The key being set up (made now if there is none, or it is older than a code lives)."""
    state = session.get(PENDING)
    if isinstance(state, dict) and isinstance(state.get("at"), (int, float)):
        if 0 <= time.time() - state["at"] <= current_app.config["CODE_TTL"].total_seconds():
            try:
                return encryption.decrypt(state["secret"])
            except (encryption.Undecryptable, KeyError, TypeError):
                pass
    secret = rules.new_secret()
    session[PENDING] = {"secret": encryption.encrypt(secret), "at": time.time()}
    return secret


def setup_page(form, secret, status=200):
    uri = rules.provisioning_uri(secret, current_user.username, current_app.config["APP_NAME"])
    body = render_template("profile/authenticator_setup.html", form=form, uri=uri, qr=Markup(rules.qr_svg(uri, _(rules.QR_LABEL))),
                           key=rules.key_in_groups(secret))
    return body, status, NO_STORE


@bp.route("/authenticator-app", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CODE_CHECK_LIMIT_PER_IP"], methods=["POST"], key_func=client_key)
@login_required
@sudo_required
def add_authenticator():
    """Set up an authenticator app: scan or type the key, then confirm with one code."""
    secret = pending_secret()
    form = AuthenticatorSetupForm()
    if not form.validate_on_submit():
        return setup_page(form, secret, 400 if form.errors else 200)
    step = rules.matching_step(secret, form.code.data)
    if step is None:
        form.code.errors.append(_(WRONG_CODE))
        return setup_page(form, secret, 401)
    session.pop(PENDING, None)
    if db.session.scalar(sa.select(sa.exists().where(TwoFactorMethod.lookup == lookup_of(secret)))):
        return redirect(url_for("profile.index"))  # the same setup, confirmed a moment ago
    try:
        return add(current_user._get_current_object(), new_method(secret, form.name.data.strip(), step),
                   _("Your authenticator app is set up."))
    except IntegrityError:  # the same setup, confirmed at the same moment in another tab: one method
        db.session.rollback()
        return redirect(url_for("profile.index"))
