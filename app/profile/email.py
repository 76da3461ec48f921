"""The account's email address: add or change it (a link confirms it), or remove it. Each change
asks to confirm it's you; the old address is told of a change."""
from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound

from app import emails, mail
from app.auth.forms import ActionForm
from app.extensions import db
from app.i18n import N_, _, ngettext
from app.models import utcnow
from app.profile import bp
from app.profile.forms import EmailForm, RemoveEmailForm
from app.security import sudo_required
from app.throttle import Throttled, take

ALREADY_YOURS = N_("That is already your email address.")


@bp.app_template_global()
def now_utc():
    return utcnow()


def mail_on():
    if not mail.enabled():
        raise NotFound()


@bp.route("/email", methods=["GET", "POST"])
@login_required
@sudo_required
def email():
    """Add an email address, or change it: a link goes to the new one."""
    mail_on()
    form = EmailForm()
    template = "profile/email.html"
    if not form.validate_on_submit():
        return render_template(template, form=form), 400 if form.errors else 200
    user = current_user._get_current_object()
    address = form.email.address
    if address == user.email:
        form.email.errors.append(_(ALREADY_YOURS))
        return render_template(template, form=form), 400
    try:
        take([(current_app.config["EMAIL_LIMIT_PER_ACCOUNT"], (f"email-links:{user.id}",))],
             lambda wait: _("You have asked for many links. Please try again in %(wait)s.", wait=wait))
    except Throttled as error:
        flash(error.description, "warning")
        return render_template(template, form=form), 429, {"Retry-After": str(error.retry_after_seconds)}
    emails.start_confirmation(user, address)
    db.session.commit()
    hours = int(emails.CONFIRM_FOR.total_seconds() // 3600)
    if user.email:
        sent = ngettext("We sent a link to %(address)s. Open it within %(num)d hour to confirm the address. "
                        "Until then, your current address stays.",
                        "We sent a link to %(address)s. Open it within %(num)d hours to confirm the address. "
                        "Until then, your current address stays.", hours, address=address)
    else:
        sent = ngettext("We sent a link to %(address)s. Open it within %(num)d hour to confirm the address.",
                        "We sent a link to %(address)s. Open it within %(num)d hours to confirm the address.",
                        hours, address=address)
    flash(sent, "info")
    return redirect(url_for("profile.index"))


@bp.route("/email/remove", methods=["GET", "POST"])
@login_required
@sudo_required
def remove_email():
    """Remove the account's email address."""
    mail_on()
    if not current_user.email:
        return redirect(url_for("profile.index"))
    form = RemoveEmailForm()
    if not form.validate_on_submit():
        return render_template("profile/remove_email.html", form=form), 400 if form.errors else 200
    emails.remove(current_user._get_current_object())
    flash(_("Your email address is removed. You can't reset a forgotten password by email any more."), "success")
    return redirect(url_for("profile.index"))


@bp.route("/email/cancel", methods=["POST"])
@login_required
def cancel_email():
    """Stop the link that waits for confirmation from working."""
    if ActionForm().validate_on_submit():
        emails.cancel_pending(current_user._get_current_object())
        flash(_("That link no longer works."), "info")
    return redirect(url_for("profile.index"))
