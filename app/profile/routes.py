"""The profile page and turning two-factor authentication on and off."""
import time

from flask import current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from app import events
from app.auth.forms import ActionForm, CodeForm
from app.auth.routes import CODE_EXPIRED, TOO_MANY_CODES, WRONG_CODE, error_status, render_code_page, resend
from app.auth.session import refresh_login
from app.codes import check_code, send_code, sent_message
from app.extensions import db
from app.phones import default_country
from app.profile import bp
from app.profile.forms import ConfirmDisableForm, PhoneForm
from app.security import mask_phone, sudo_required
from app.throttle import Throttled
from app.verification import CheckResult, VerificationError

PENDING_PHONE = "enrol_phone"
PENDING_PHONE_AT = "enrol_phone_at"
CONFIRM_TEMPLATE = "profile/confirm.html"


@bp.route("")
@login_required
def index():
    """The profile: 2FA status, the masked number, recent security events."""
    return render_template(
        "profile/index.html",
        masked_phone=mask_phone(current_user.phone),
        events=events.recent(current_user),
        descriptions=events.DESCRIPTIONS,
    )


def pending_phone():
    """The number waiting for its code, or None when absent or older than a code lives."""
    phone, started = session.get(PENDING_PHONE), session.get(PENDING_PHONE_AT)
    if not phone or not isinstance(started, (int, float)):
        return None
    if not 0 <= time.time() - started <= current_app.config["CODE_TTL"].total_seconds():
        clear_pending_phone()
        return None
    return phone


def clear_pending_phone():
    session.pop(PENDING_PHONE, None)
    session.pop(PENDING_PHONE_AT, None)


@bp.route("/2fa/enable", methods=["GET", "POST"])
@login_required
@sudo_required
def enable_2fa():
    """Ask for a phone number and send it a code."""
    if current_user.two_factor_enabled:
        flash("Two-factor authentication is already on.", "info")
        return redirect(url_for("profile.index"))
    form = PhoneForm()
    if not form.is_submitted():
        form.country.data = default_country()
    if not form.validate_on_submit():
        return render_template("profile/enable.html", form=form), 400 if form.errors else 200
    try:
        sent = send_code(form.e164, current_user)
    except Throttled as error:
        status, headers = error_status(error)
        return render_template("profile/enable.html", form=form), status, headers
    except VerificationError as error:
        if error.field == "phone":
            form.phone.errors.append(error.message)
        else:
            flash(error.message, "danger")
        return render_template("profile/enable.html", form=form), error.status
    session[PENDING_PHONE] = form.e164
    session[PENDING_PHONE_AT] = time.time()
    flash(sent_message(sent), "info")
    return redirect(url_for("profile.confirm_2fa"))


def pending_phone_or_restart():
    phone = pending_phone()
    if phone is None:
        flash("Your code request expired or was not started. Please enter your number again.", "warning")
    return phone


@bp.route("/2fa/confirm", methods=["GET", "POST"])
@login_required
def confirm_2fa():
    """Check the code sent to the new number; only then is 2FA turned on."""
    phone = pending_phone_or_restart()
    if phone is None:
        return redirect(url_for("profile.enable_2fa"))
    form = CodeForm()
    context = {"masked_phone": mask_phone(phone)}
    if not form.validate_on_submit():
        return render_code_page(CONFIRM_TEMPLATE, form, 400 if form.errors else 200, phone, **context)
    try:
        result = check_code(current_user, phone, form.code.data)
    except VerificationError as error:
        status, headers = error_status(error)
        return render_code_page(CONFIRM_TEMPLATE, form, status, phone, **context), headers
    if result is CheckResult.WRONG:
        form.code.errors.append(WRONG_CODE)
        return render_code_page(CONFIRM_TEMPLATE, form, 401, phone, **context)
    if result is not CheckResult.APPROVED:
        flash(CODE_EXPIRED if result is CheckResult.EXPIRED else TOO_MANY_CODES, "warning")
        return render_code_page(CONFIRM_TEMPLATE, CodeForm(formdata=None), 400, phone, **context)
    user = current_user._get_current_object()
    user.enable_two_factor(phone)
    events.record(events.TWO_FACTOR_ENABLED, user, detail=f"phone {mask_phone(phone)}", commit=False)
    db.session.commit()
    clear_pending_phone()
    refresh_login(user)
    flash("Two-factor authentication is on. Each login will now ask for a code sent to your phone.", "success")
    return redirect(url_for("profile.index"))


@bp.route("/2fa/confirm/resend", methods=["POST"], defaults={"channel": "sms"}, endpoint="confirm_resend")
@bp.route("/2fa/confirm/call", methods=["POST"], defaults={"channel": "call"}, endpoint="confirm_call")
@login_required
def resend_enrolment_code(channel):
    """Send the enrolment code again, by text or by a call."""
    phone = pending_phone_or_restart()
    if phone is None:
        return redirect(url_for("profile.enable_2fa"))
    return resend(channel, CONFIRM_TEMPLATE, phone, current_user, url_for("profile.confirm_2fa"))


@bp.route("/2fa/disable", methods=["GET", "POST"])
@login_required
@sudo_required
def disable_2fa():
    """Turn 2FA off, after a fresh re-authentication."""
    if not current_user.two_factor_enabled:
        flash("Two-factor authentication is already off.", "info")
        return redirect(url_for("profile.index"))
    form = ConfirmDisableForm()
    if not form.validate_on_submit():
        return render_template("profile/disable.html", form=form, masked_phone=mask_phone(current_user.phone))
    user = current_user._get_current_object()
    user.disable_two_factor()
    events.record(events.TWO_FACTOR_DISABLED, user, commit=False)
    db.session.commit()
    refresh_login(user)
    flash("Two-factor authentication is off. Your other sessions have been logged out.", "warning")
    return redirect(url_for("profile.index"))


@bp.app_context_processor
def inject_action_form():
    return {"logout_form": ActionForm()}
