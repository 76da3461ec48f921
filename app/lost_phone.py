"""After a recovery code was used in a session, the phone may be lost: until the number changes,
the profile says so plainly and offers to change it. The fact lives in that server-side session."""
from flask import session

RECOVERY_CODE_USED = "recovery_code_used"


def note_recovery_code_used():
    session[RECOVERY_CODE_USED] = True


def recovery_code_used():
    return bool(session.get(RECOVERY_CODE_USED))


def forget():
    session.pop(RECOVERY_CODE_USED, None)
