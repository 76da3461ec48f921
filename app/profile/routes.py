"""The profile page, with its reminders, and turning two-factor authentication off (turning it
on and adding a way to log in are in app/methods/<kind>/views.py)."""
from datetime import datetime, timezone

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app import devices, events, lost_phone, methods, recovery
from app.auth.forms import ActionForm
from app.auth.session import refresh_login
from app.i18n import _
from app.models import AUTHENTICATOR_APP, WEBAUTHN
from app.profile import bp
from app.profile.overview import profile_lists
from app.profile.forms import ConfirmDisableForm
from app.profile.required import refuse_last_method
from app.security import mask_phone, sudo_required

EVENTS_SHOWN, MORE_EVENTS_SHOWN = 10, 50  # "Show more" (?events=more) shows the larger number


@bp.route("")
@login_required
def index():
    """The profile: 2FA status, its methods, recovery codes, browsers, recent events."""
    limit = MORE_EVENTS_SHOWN if request.args.get("events") == "more" else EVENTS_SHOWN
    # Methods and remembered browsers exist only while 2FA is on (turning it off removes them all).
    own_methods, remembered, recent = profile_lists(current_user, limit + 1, with_2fa=current_user.two_factor_enabled)
    unsaved_until = recovery.shown_until()
    return render_template(
        "profile/index.html",
        masked_phone=mask_phone(current_user.phone),
        methods=[(method, methods.describe(method)) for method in own_methods],
        recovery_left=current_user.recovery_codes_left if current_user.two_factor_enabled else 0,
        low_warning=recovery.LOW_WARNING,
        devices=remembered,
        this_browser_id=devices.this_browser(current_user, remembered),
        events=recent[:limit],
        more_events=len(recent) > limit and limit == EVENTS_SHOWN,
        describe_event=events.in_words,
        event_detail=events.detail_in_words,
        browser_words=devices.in_words,
        actions=ActionForm(),
        lost_phone=bool(current_user.phone) and lost_phone.recovery_code_used(),
        unsaved_codes_until=datetime.fromtimestamp(unsaved_until, timezone.utc) if unsaved_until else None,
    )


@bp.route("/2fa/disable", methods=["GET", "POST"])
@login_required
@sudo_required
def disable_2fa():
    """Turn 2FA off, after a fresh re-authentication."""
    if not current_user.two_factor_enabled:
        flash(_("Two-factor authentication is already off."), "info")
        return redirect(url_for("profile.index"))
    refused = refuse_last_method()
    if refused:
        return refused
    form = ConfirmDisableForm()
    if not form.validate_on_submit():
        others = current_user.method_count - (1 if current_user.phone else 0)
        kinds = [method.kind for method in methods.methods_of(current_user)] if others else []
        return render_template(
            "profile/disable.html", form=form, masked_phone=mask_phone(current_user.phone),
            apps=kinds.count(AUTHENTICATOR_APP), passkeys=kinds.count(WEBAUTHN),
            recovery_left=recovery.remaining(current_user), remembered=len(devices.listed(current_user)),
        ), 400 if form.errors else 200
    user = current_user._get_current_object()
    user.disable_two_factor()
    others = refresh_login(user, (events.TWO_FACTOR_DISABLED, ""))
    lost_phone.forget()
    recovery.forget_shown_codes()
    flash(_("Two-factor authentication is off.") + others, "warning")
    return redirect(url_for("profile.index"))
