"""Security notices: a mail to the account's confirmed address when its security changes.

They hang off the security events (app.events.record_all calls `queue_notice` with every batch of
events it records) and are queued in the same transaction. People can't turn them off. Each says
what happened, when, from which browser and network, and what to do if it wasn't them.
"""
from dataclasses import dataclass

from app import events
from app.mail import compose, enabled, link


@dataclass(frozen=True)
class Notice:
    headline: str  # "Your password was changed": the subject and the first line
    advice: str  # what to do if it wasn't you: RESET, ADMIN or DELETED


RESET, ADMIN, DELETED = "reset", "admin", "deleted"
NOTICES = {
    events.PASSWORD_CHANGED: Notice("Your password was changed", RESET),
    events.PASSWORD_RESET: Notice("Your password was reset", RESET),
    events.TWO_FACTOR_DISABLED: Notice("Two-factor authentication was turned off", RESET),
    events.TWO_FACTOR_RESET: Notice("Two-factor authentication was turned off", RESET),
    events.TWO_FACTOR_ENABLED: Notice("A way to log in was added", RESET),
    events.METHOD_ADDED: Notice("A way to log in was added", RESET),
    events.METHOD_REMOVED: Notice("A way to log in was removed", RESET),
    events.PHONE_CHANGED: Notice("Your phone number was changed", RESET),
    events.RECOVERY_CODE_USED: Notice("A recovery code was used", RESET),
    events.RECOVERY_CODES_GENERATED: Notice("New recovery codes were created", RESET),
    events.EMAIL_CHANGED: Notice("Your email address was changed", ADMIN),
    events.EMAIL_REMOVED: Notice("Your email address was removed", ADMIN),
    events.ACCOUNT_DELETED: Notice("Your account was deleted", DELETED),
}
# When one moment records several (2FA on and its first recovery codes), the first of these leads.
PRECEDENCE = [events.ACCOUNT_DELETED, events.EMAIL_CHANGED, events.EMAIL_REMOVED, events.PASSWORD_RESET,
              events.PASSWORD_CHANGED, events.TWO_FACTOR_RESET, events.TWO_FACTOR_DISABLED]


def when(moment):
    return f"{moment:%-d %B %Y} at {moment:%H:%M} UTC"


def queue_notice(user, rows):
    """Queues one notice for the rows (events of one moment) that call for one, if the account
    has a confirmed address."""
    noted = [row for row in rows if row["kind"] in NOTICES]
    if not noted or not getattr(user, "email", None) or not enabled():
        return
    lead = min(noted, key=lambda row: PRECEDENCE.index(row["kind"]) if row["kind"] in PRECEDENCE else len(PRECEDENCE))
    notice = NOTICES[lead["kind"]]
    happened = [
        events.DESCRIPTIONS.get(row["kind"], notice.headline) + (f" ({row['detail']})" if row["detail"] else "")
        for row in noted
    ]
    by_operator = lead["user_agent"] == "command line"
    compose.send(
        user.email, "security_notice", f"Security notice: {notice.headline}",
        username=user.username, headline=notice.headline, happened=happened, advice=notice.advice,
        when=when(lead["created_at"]), browser="An administrator, on the command line" if by_operator else lead["user_agent"],
        network=lead["ip"] or "not known", forgot_url=link("auth.forgot_password"), profile_url=link("profile.index"),
    )
