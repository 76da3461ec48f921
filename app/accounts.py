"""What happens to a whole account: deleting it, or an operator resetting its 2FA."""
from flask import current_app

from app import events
from app.extensions import db
from app.verification.console import forget_codes_for


def delete_account(user, detail=""):
    """The account and everything about it: its sessions everywhere (a pending login or number
    among them), its development codes, its codes, browsers and events."""
    events.record(events.ACCOUNT_DELETED, user, detail=detail, store=False)
    current_app.session_interface.end_for_user(user.id)
    if user.phone:
        forget_codes_for(user.phone)
    db.session.delete(user)
    db.session.commit()


def reset_two_factor(user):
    """2FA off by an operator: number, recovery codes and remembered browsers go; sessions end."""
    user.disable_two_factor()
    events.record(events.TWO_FACTOR_RESET, user, commit=False)
    db.session.commit()
    current_app.session_interface.end_for_user(user.id)
