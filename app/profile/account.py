"""Profile pages for recovery codes, remembered browsers, the password and the account itself."""
from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app import devices, events, recovery
from app import accounts
from app.auth.forms import ActionForm
from app.auth.session import end_session, refresh_login
from app.extensions import db
from app.i18n import _
from app.notices import to_login
from app.profile import bp
from app.profile.forms import DeleteAccountForm, PasswordChangeForm, RegenerateCodesForm, SavedCodesForm
from app.security import sudo_required

NO_STORE = {"Cache-Control": "no-store"}


@bp.route("/recovery-codes", methods=["GET", "POST"])
@login_required
def recovery_codes():
    """Show new recovery codes once; 'I have saved my recovery codes' clears them from the session
    (and, while turning 2FA on, is its last step)."""
    codes = recovery.shown_codes()
    if not codes:
        return redirect(url_for("profile.index"))
    form = SavedCodesForm()
    enrolling = recovery.shown_for_enrolment()
    if form.validate_on_submit():
        recovery.forget_shown_codes()
        if enrolling:
            from app.methods import webauthn

            if current_user.phone:
                on = _("Two-factor authentication is on. Each login will now ask for a code sent to your phone. "
                       "Keep your recovery codes somewhere safe, away from your phone.")
            elif webauthn.has_passkey(current_user):
                on = _("Two-factor authentication is on. Each login will now ask for your passkey or security key "
                       "after your password (or you sign in with the passkey alone). "
                       "Keep your recovery codes somewhere safe, away from your phone.")
            else:
                on = _("Two-factor authentication is on. Each login will now ask for a code from your authenticator "
                       "app. Keep your recovery codes somewhere safe, away from your phone.")
            flash(on, "success")
        else:
            flash(_("Keep your recovery codes somewhere safe, away from your phone."), "info")
        return redirect(url_for("profile.index"))
    page = render_template("profile/recovery_codes.html", codes=codes, form=form, enrolling=enrolling)
    return page, 400 if form.errors else 200, NO_STORE


@bp.route("/recovery-codes.txt")
@login_required
def recovery_codes_download():
    """The codes just shown, as a text file."""
    codes = recovery.shown_codes()
    if not codes:
        flash(_("Those codes were already saved, or shown too long ago. Create new ones if you lost them."), "warning")
        return redirect(url_for("profile.index"))
    heading = _("Recovery codes for %(username)s", username=current_user.username)
    text = "{}\n{}\n\n{}\n".format(heading, _("Each code works once."), "\n".join(codes))
    return Response(
        text,
        mimetype="text/plain",
        headers={"Content-Disposition": "attachment; filename=recovery-codes.txt", **NO_STORE},
    )


@bp.route("/recovery-codes/regenerate", methods=["GET", "POST"])
@login_required
@sudo_required
def regenerate_recovery_codes():
    """Void the old recovery codes and create a new set."""
    if not current_user.two_factor_enabled:
        return redirect(url_for("profile.index"))
    form = RegenerateCodesForm()
    if not form.validate_on_submit():
        return render_template("profile/regenerate_codes.html", form=form), 400 if form.errors else 200
    recovery.show_once(recovery.generate(current_user))
    events.record(events.RECOVERY_CODES_GENERATED, current_user, commit=False)
    db.session.commit()
    return redirect(url_for("profile.recovery_codes"))


@bp.route("/devices/<int(max=2147483647):device_id>/forget", methods=["POST"])
@login_required
def forget_device(device_id):
    """Forget one remembered browser."""
    if ActionForm().validate_on_submit() and devices.forget(current_user, device_id):
        events.record(events.DEVICE_FORGOTTEN, current_user)
        flash(_("That browser will be asked for a code again."), "info")
    else:
        flash(_("That browser was not found."), "warning")
    return redirect(url_for("profile.index"))


@bp.route("/devices/forget-all", methods=["POST"])
@login_required
def forget_all_devices():
    """Forget every remembered browser."""
    if ActionForm().validate_on_submit():
        current_user.forget_devices()
        events.record(events.DEVICE_FORGOTTEN, current_user, detail="all of them")
        flash(_("Every browser will be asked for a code again."), "info")
    return redirect(url_for("profile.index"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
@sudo_required
def change_password():
    """A new password ends every other session, remember cookie and remembered browser."""
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return render_template("profile/password.html", form=form), 400 if form.errors else 200
    user = current_user._get_current_object()
    user.change_password(form.password.data)
    others = refresh_login(user, (events.PASSWORD_CHANGED, ""))
    flash(_("Your password is changed.") + others, "success")
    return redirect(url_for("profile.index"))


@bp.route("/delete", methods=["GET", "POST"])
@login_required
@sudo_required
def delete_account():
    """Delete the account with its number, codes, devices and events."""
    form = DeleteAccountForm(current_user.username)
    if not form.validate_on_submit():
        return render_template("profile/delete.html", form=form), 400 if form.errors else 200
    user = current_user._get_current_object()
    end_session()
    accounts.delete_account(user)
    return to_login("account-deleted")
