"""The profile's passkey pages: adding one (the browser makes it, from options the script asks
for; this page keeps it) and renaming one. Removing one is any method's "Remove"
(app.profile.methods). All of them ask to confirm it's you first."""
import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from app.extensions import db, limiter
from app.i18n import _
from app.methods.webauthn import ceremony, describe
from app.methods.webauthn.forms import AddPasskeyForm, RenamePasskeyForm
from app.methods.webauthn.signin import options_answer
from app.models import WEBAUTHN, TwoFactorMethod
from app.profile import bp
from app.profile.methods import add, owned_method
from app.security import client_key, sudo_required


def add_page(form, status):
    return render_template("profile/add_passkey.html", form=form), status


@bp.post("/passkeys/add/options")
@limiter.limit(lambda: current_app.config["CODE_CHECK_LIMIT_PER_IP"], methods=["POST"], key_func=client_key)
@login_required
@sudo_required
def passkey_options():
    """Options to make a passkey: the person's handle, their passkeys excluded."""
    return options_answer(ceremony.registration_options(current_user._get_current_object()))


@bp.route("/passkeys/add", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CODE_CHECK_LIMIT_PER_IP"], methods=["POST"], key_func=client_key)
@login_required
@sudo_required
def add_passkey():
    """Add a passkey or security key."""
    form = AddPasskeyForm()
    if not form.validate_on_submit():
        return add_page(form, 400 if form.errors else 200)
    user = current_user._get_current_object()
    try:
        method, credential = ceremony.new_method(user, form.credential.answer)
    except ceremony.Refused as refusal:
        form.credential.errors.append(_(refusal.message))
        return add_page(form, 400)
    try:
        # The method first (its id names the credential row), then everything in add()'s commit.
        method.user_id = user.id
        db.session.add(method)
        db.session.flush()
        credential.method_id = method.id
        db.session.add(credential)
        return add(user, method, _("Your passkey is added."))
    except IntegrityError:  # the same credential, added a moment ago in another tab
        db.session.rollback()
        form.credential.errors.append(_(ceremony.ALREADY_ADDED))
        return add_page(form, 400)


@bp.route("/passkeys/<int:method_id>/rename", methods=["GET", "POST"])
@login_required
@sudo_required
def rename_passkey(method_id):
    """Give a passkey or security key another name."""
    method = owned_method(method_id)
    if method.kind != WEBAUTHN:
        abort(404)
    form = RenamePasskeyForm(data={"name": method.name})
    if not form.validate_on_submit():
        page = render_template("profile/rename_passkey.html", form=form, what=describe(method))
        return page, 400 if form.errors else 200
    name = form.name.data.strip()
    db.session.execute(sa.update(TwoFactorMethod).where(TwoFactorMethod.id == method.id).values(name=name)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    method.name = name
    flash(_("Renamed: it is now %(method)s.", method=describe(method)), "success")
    return redirect(url_for("profile.index"))
