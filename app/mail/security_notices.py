"""Security notices: a mail to the account's confirmed address when its security changes.

They hang off the security events (app.events.record_all calls `queue_notice` with every batch of
events it records) and are queued in the same transaction. People can't turn them off. Each says
what happened, when, from which browser and network, and what to do if it wasn't them.
"""
from dataclasses import dataclass

from app import devices, events
from app.dates import long_date, short_time
from app.i18n import N_, gettext, in_language, lazy_gettext
from app.mail import compose, enabled, link


@dataclass(frozen=True)
class Notice:
    headline: str  # "Your password was changed": the subject and the first line (English, marked N_)
    advice: str  # what to do if it wasn't you: RESET, ADMIN or DELETED


RESET, ADMIN, DELETED = "reset", "admin", "deleted"
NOTICES = {
    events.PASSWORD_CHANGED: Notice(N_("Your password was changed"), RESET),
    events.PASSWORD_RESET: Notice(N_("Your password was reset"), RESET),
    events.TWO_FACTOR_DISABLED: Notice(N_("Two-factor authentication was turned off"), RESET),
    events.TWO_FACTOR_RESET: Notice(N_("Two-factor authentication was turned off"), RESET),
    events.TWO_FACTOR_ENABLED: Notice(N_("A way to log in was added"), RESET),
    events.METHOD_ADDED: Notice(N_("A way to log in was added"), RESET),
    events.METHOD_REMOVED: Notice(N_("A way to log in was removed"), RESET),
    events.PHONE_CHANGED: Notice(N_("Your phone number was changed"), RESET),
    events.RECOVERY_CODE_USED: Notice(N_("A recovery code was used"), RESET),
    events.RECOVERY_CODES_GENERATED: Notice(N_("New recovery codes were created"), RESET),
    events.EMAIL_CHANGED: Notice(N_("Your email address was changed"), ADMIN),
    events.EMAIL_REMOVED: Notice(N_("Your email address was removed"), ADMIN),
    events.ACCOUNT_DELETED: Notice(N_("Your account was deleted"), DELETED),
}
# When one moment records several (2FA on and its first recovery codes), the first of these leads.
PRECEDENCE = [events.ACCOUNT_DELETED, events.EMAIL_CHANGED, events.EMAIL_REMOVED, events.PASSWORD_RESET,
              events.PASSWORD_CHANGED, events.TWO_FACTOR_RESET, events.TWO_FACTOR_DISABLED]


def when(moment):
    """`3 December 2026 at 14:05 UTC`, in the mail's language."""
    # Translators: when a change happened, e.g. "3 December 2026 at 14:05 UTC".
    return gettext("%(date)s at %(time)s UTC", date=long_date(moment), time=short_time(moment))


def described(row, notice):
    """One line of what happened: the event's name in the mail's language, and its detail."""
    name = gettext(str(events.DESCRIPTIONS.get(row["kind"], notice.headline)))
    # Translators: an event, then its detail in brackets, e.g. "Recovery code used (9 left)".
    detail = events.detail_in_words(row["detail"]) if row["detail"] else ""
    return gettext("%(event)s (%(detail)s)", event=name, detail=detail) if detail else name


def queue_notice(user, rows):
    """Queues one notice for the rows (events of one moment) that call for one, if the account
    has a confirmed address: in the account's language (else the page's)."""
    noted = [row for row in rows if row["kind"] in NOTICES]
    if not noted or not getattr(user, "email", None) or not enabled():
        return
    lead = min(noted, key=lambda row: PRECEDENCE.index(row["kind"]) if row["kind"] in PRECEDENCE else len(PRECEDENCE))
    notice = NOTICES[lead["kind"]]
    by_operator = lead["user_agent"] == "command line"
    with in_language(compose.language_of(user)):
        headline = gettext(notice.headline)
        compose.send(
            user.email, "security_notice", lazy_gettext("Security notice: %(headline)s", headline=headline),
            recipient=user, username=user.username, headline=headline, happened=[described(row, notice) for row in noted],
            advice=notice.advice, when=when(lead["created_at"]),
            browser=gettext("An administrator, on the command line") if by_operator else devices.in_words(lead["user_agent"]),
            network=lead["ip"] or gettext("not known"), forgot_url=link("auth.forgot_password"),
            profile_url=link("profile.index"),
        )
