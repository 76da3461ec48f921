"""Adding and removing second-factor methods, whatever their kind: the first one turns 2FA on and
goes through the recovery codes; any change is a security event and ends the other sessions.
Removing the last one is turning 2FA off (profile.disable_2fa), with its warning and cleanup."""
import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app import events, methods, recovery
from app.auth.session import refresh_login
from app.extensions import db
from app.i18n import _
from app.models import TwoFactorMethod
from app.profile import bp
from app.profile.forms import RemoveMethodForm
from app.profile.required import refuse_last_method
from app.security import sudo_required


def add(user, method, confirmed):
    """Saves a confirmed method; `confirmed` starts the flash ("Your number is confirmed.")."""
    first = not user.two_factor_enabled
    what, detail = methods.describe(method), methods.describe(method, methods.english)
    user.add_method(method)
    if first:
        recovery.show_once(recovery.generate(user, first=True), enrolling=True)
        refresh_login(user, (events.TWO_FACTOR_ENABLED, detail), (events.RECOVERY_CODES_GENERATED, ""))
        # "2FA is on" is said once the recovery codes are saved (profile.recovery_codes).
        # Translators: %(confirmed)s is a sentence such as "Your number is confirmed."
        flash(_("%(confirmed)s One last step: save your recovery codes.", confirmed=confirmed), "success")
        return redirect(url_for("profile.recovery_codes"))
    others = refresh_login(user, (events.METHOD_ADDED, detail))
    # Translators: %(method)s is a way to log in, such as "Phone +44 ••• ••• •456" or "Passkey 'Work laptop'".
    flash(_("%(confirmed)s %(method)s can now be used to log in.", confirmed=confirmed, method=what) + others,
          "success")
    return redirect(url_for("profile.index"))


def owned_method(method_id):
    """The current user's method with this id, or a 404 (another's is not found either; nor is an
    id past what the database's integers hold)."""
    if method_id > 2**62:
        abort(404)
    method = db.session.scalar(sa.select(TwoFactorMethod).where(
        TwoFactorMethod.id == method_id, TwoFactorMethod.user_id == current_user.id))
    if method is None:
        abort(404)
    return method


@bp.route("/methods/<int:method_id>/remove", methods=["GET", "POST"])
@login_required
@sudo_required
def remove_method(method_id):
    """Remove one method; the last one goes by turning 2FA off."""
    method = owned_method(method_id)
    refused = refuse_last_method()
    if refused:
        return refused
    if current_user.method_count <= 1:
        return redirect(url_for("profile.disable_2fa"))
    form = RemoveMethodForm()
    what = methods.describe(method)
    if not form.validate_on_submit():
        return render_template("profile/remove_method.html", form=form, what=what), 400 if form.errors else 200
    user, detail = current_user._get_current_object(), methods.describe(method, methods.english)
    user.remove_method(method)
    others = refresh_login(user, (events.METHOD_REMOVED, detail))
    flash(_("%(method)s is removed: it can no longer be used to log in.", method=what) + others, "success")
    return redirect(url_for("profile.index"))
