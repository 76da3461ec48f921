"""A recovery code typed where a code is asked (at login, or to confirm it's you): checked, used
up, counted and recorded the same way in both places. A wrong one takes one of the step's code
attempts and counts toward the account's lock, like a wrong code."""
from app import events, recovery
from app.codes import code_step_wait, record_wrong_code
from app.i18n import N_, ngettext

USED, WRONG, LOCKED, NO_TRIES_LEFT = "used", "wrong", "locked", "no tries left"
NOT_VALID = N_("That recovery code is not valid or was already used.")
LOGGED_IN, CONFIRMED = "logged in", "confirmed"  # what the recovery code did, for `used_message`


def use_recovery_code(user, code, attempts):
    """(outcome, codes left): USED (the code is spent), WRONG, LOCKED (this wrong code locked
    entering codes) or NO_TRIES_LEFT (the step's attempts are used up: it ends). After USED the
    caller records `used_event` with the step it completes, in its commit."""
    if attempts.take() is None:
        return NO_TRIES_LEFT, None
    left = recovery.use(user, code)
    if left is None:
        record_wrong_code(user, kind=events.RECOVERY_CODE_FAILED)
        if code_step_wait(user):
            return LOCKED, None
        return (NO_TRIES_LEFT if attempts.left() == 0 else WRONG), None
    user.reset_code_failures()
    return USED, left


def used_event(left, detail=""):
    """The event a spent recovery code leaves: (kind, detail) for events.record_all."""
    return events.RECOVERY_CODE_USED, ", ".join(filter(None, [detail, f"{left} left"]))


def used_message(left, done):
    """The flash after a recovery code was accepted (`done`: LOGGED_IN or CONFIRMED), and its
    category: a warning when few are left."""
    category = "warning" if left <= recovery.LOW_WARNING else "success"
    if done == LOGGED_IN:
        # Translators: %(num)d is how many recovery codes are left.
        return ngettext("You are logged in with a recovery code. You have %(num)d left.",
                        "You are logged in with a recovery code. You have %(num)d left.", left), category
    # Translators: %(num)d is how many recovery codes are left.
    return ngettext("You confirmed it's you with a recovery code. You have %(num)d left.",
                    "You confirmed it's you with a recovery code. You have %(num)d left.", left), category
