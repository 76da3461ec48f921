"""Adding the phone (turning two-factor authentication on, or adding it beside an authenticator
app), and changing it: a number, then the code sent to it, then (for a first method) the recovery
codes.

Changing the phone never needs the old one: confirming it's you takes a recovery code too, and the
code that proves the new number goes to the new number.
"""
import time

from flask import current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from app import events, lost_phone
from app.auth.code_step import CodePage, record_sent, retry_after_header
from app.auth.session import refresh_login
from app.codes import send_code, sent_message
from app.i18n import _
from app.methods.phone import PhoneChallenge
from app.models import PHONE, TwoFactorMethod
from app.phones import country_of, default_country
from app.profile import bp
from app.methods.phone.forms import PhoneForm
from app.profile.methods import add
from app.security import mask_phone, sudo_required
from app.throttle import Throttled
from app.verification import VerificationError

PENDING_PHONE = "enrol_phone"
PENDING_PHONE_AT = "enrol_phone_at"


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


def phone_form_page(template, **context):
    """Shared by enabling 2FA and changing the phone: ask for a number and send it a code."""
    form = PhoneForm()
    if not form.is_submitted():
        form.country.data = country_of(current_user.phone) or default_country()
    form.describe_for(form.country.data)
    if not form.validate_on_submit():
        return render_template(template, form=form, **context), 400 if form.errors else 200
    try:
        sent = send_code(form.e164, current_user)
    except Throttled as error:
        flash(error.description, "warning")
        return render_template(template, form=form, **context), 429, {"Retry-After": str(error.retry_after_seconds)}
    except VerificationError as error:
        if error.field == "phone":
            form.phone.errors.append(error.message)
        else:
            flash(error.message, "danger")
        return render_template(template, form=form, **context), error.status, retry_after_header(error)
    session[PENDING_PHONE] = form.e164
    session[PENDING_PHONE_AT] = time.time()
    record_sent(form.e164, sent)
    flash(sent_message(sent), "info")
    return redirect(url_for("profile.confirm_2fa"))


@bp.route("/2fa/enable", methods=["GET", "POST"])
@login_required
@sudo_required
def enable_2fa():
    """Ask for a phone number and send it a code."""
    if current_user.phone:
        flash(_("Two-factor authentication is already on."), "info")
        return redirect(url_for("profile.index"))
    return phone_form_page("profile/enable.html", adding=current_user.two_factor_enabled)


@bp.route("/2fa/phone", methods=["GET", "POST"])
@login_required
@sudo_required
def change_phone():
    """Replace the number; the old one keeps working until the new one is confirmed."""
    if not current_user.phone:
        return redirect(url_for("profile.enable_2fa"))
    return phone_form_page("profile/change_phone.html", masked_phone=mask_phone(current_user.phone))


def confirm_page(phone):
    return CodePage("profile/confirm.html", PhoneChallenge(phone), current_user._get_current_object(),
                    full_number=True, changing=bool(current_user.phone), first=not current_user.two_factor_enabled)


def pending_phone_or_restart():
    """The pending number, or None after flashing why (the caller sends them to `phone_entry_url`)."""
    phone = pending_phone()
    if phone is None:
        flash(_("Your code request expired or was not started. Please enter your number again."), "warning")
    return phone


def phone_entry_url():
    return url_for("profile.change_phone" if current_user.phone else "profile.enable_2fa")


@bp.route("/2fa/confirm", methods=["GET", "POST"])
@login_required
def confirm_2fa():
    """Check the code sent to the new number; only then is it saved (and 2FA turned on)."""
    phone = pending_phone_or_restart()
    if phone is None:
        return redirect(phone_entry_url())
    user = current_user._get_current_object()
    page = confirm_page(phone)
    result, response = page.submit(page.form(), user)
    if response is not None:
        return response
    clear_pending_phone()
    if user.phone:
        user.change_phone(phone)
        others = refresh_login(user, (events.PHONE_CHANGED, f"to {mask_phone(phone)}"))
        lost_phone.forget()
        flash(_("Your phone number is changed. Codes now go to the new number.") + others, "success")
        return redirect(url_for("profile.index"))
    return add(user, TwoFactorMethod(kind=PHONE, phone=phone), _("Your number is confirmed."))


@bp.route("/2fa/confirm/resend", methods=["POST"], defaults={"channel": "sms"}, endpoint="confirm_resend")
@bp.route("/2fa/confirm/call", methods=["POST"], defaults={"channel": "call"}, endpoint="confirm_call")
@bp.route("/2fa/confirm/whatsapp", methods=["POST"], defaults={"channel": "whatsapp"}, endpoint="confirm_whatsapp")
@login_required
def resend_enrolment_code(channel):
    """Send the enrolment code again, by text, a phone call or WhatsApp."""
    phone = pending_phone_or_restart()
    if phone is None:
        return redirect(phone_entry_url())
    return confirm_page(phone).resend(current_user._get_current_object(), channel, url_for("profile.confirm_2fa"))
