"""Email addresses: what the forms accept, how an address is masked, and confirming one through
the link sent to it.

An address counts once confirmed: until then it waits in email_confirmations, with the SHA-256 of
its link's token, for 24 hours. Confirmed addresses are unique (users.email); the domain is kept
in lower case, so uniqueness compares it case-insensitively (the part before the @ is the
mailbox's own business). Nobody learns from a form whether an address is someone else's: such an
address gets a mail saying so instead of a link, and the form answers as for any other.
"""
import hashlib
import re
import secrets
from datetime import timedelta

import sqlalchemy as sa
from wtforms import StringField, ValidationError
from wtforms.validators import InputRequired

from app import events
from app.extensions import db
from app.i18n import N_, lazy_gettext, lazy_ngettext
from app.mail import compose, link
from app.models import EmailConfirmation, User, utcnow

CONFIRM_FOR = timedelta(hours=24)
MAX_LENGTH, MAX_LOCAL = 254, 64
FORMAT = lazy_gettext("Enter an email address in the correct format, like name@example.com.")
ONE_ONLY = lazy_gettext("Enter one email address only, like name@example.com.")
TOO_LONG = lazy_ngettext("Your email address must be %(num)d character or fewer.",
                         "Your email address must be %(num)d characters or fewer.", MAX_LENGTH)
LOCAL_TOO_LONG = lazy_ngettext("The part before the @ must be %(num)d character or fewer.",
                               "The part before the @ must be %(num)d characters or fewer.", MAX_LOCAL)
# RFC 5322's dot-atom: no quoting, comments, brackets or spaces (none of which a header may smuggle).
LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
TLD = re.compile(r"^([a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


class InvalidEmail(ValueError):
    """A message that says what to fix."""


def parse_email(text):
    """The address as stored (its domain in lower case, an international domain in its ASCII
    form), or InvalidEmail. Refuses anything that could turn into a second header or recipient:
    line breaks, commas, semicolons, several @, spaces, brackets, quotes."""
    text = (text or "").strip()
    if len(text) > MAX_LENGTH:
        raise InvalidEmail(TOO_LONG)
    if any(ch in text for ch in ",;") or text.count("@") > 1 or any(ch.isspace() for ch in text):
        raise InvalidEmail(ONE_ONLY)
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidEmail(FORMAT)
    if len(local) > MAX_LOCAL:
        raise InvalidEmail(LOCAL_TOO_LONG)
    if not LOCAL.match(local):
        raise InvalidEmail(FORMAT)
    try:
        domain = domain.lower().encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidEmail(FORMAT) from None
    labels = domain.split(".")
    if len(labels) < 2 or not all(LABEL.match(label) for label in labels) or not TLD.match(labels[-1]):
        raise InvalidEmail(FORMAT)
    address = f"{local}@{domain}"
    if len(address) > MAX_LENGTH:
        raise InvalidEmail(TOO_LONG)
    return address


def mask_email(address):
    """`alice@example.com` -> `a•••@e•••.com`: enough to recognise, not enough to use."""
    if not address or "@" not in address:
        return "•••"
    local, _, domain = address.rpartition("@")
    name, dot, tld = domain.rpartition(".")
    return f"{local[:1]}•••@{name[:1]}•••{dot}{tld}" if dot else f"{local[:1]}•••@•••"


def by_email(address):
    return db.session.scalar(sa.select(User).where(User.email == address))


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def start_confirmation(user, address):
    """Sends the link that confirms `address` for `user` (in the caller's transaction), or, when
    another account has it already, a mail saying so; either way any earlier link of the user
    stops working. Returns nothing the caller could tell the two cases apart by."""
    db.session.execute(sa.delete(EmailConfirmation).where(EmailConfirmation.user_id == user.id))
    owner = by_email(address)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # Waiting for a link either way, so the profile looks the same; a link for an address that
    # is another account's is never sent, so it can't be confirmed.
    db.session.add(EmailConfirmation(user_id=user.id, address=address, token_hash=_hash(token),
                                     created_at=now, expires_at=now + CONFIRM_FOR))
    if owner is not None and owner.id != user.id:
        compose.send(address, "address_in_use", N_("Your email address was given for another account"),
                     recipient=owner, forgot_url=link("auth.forgot_password"))
        return
    compose.send(address, "confirm_email", N_("Confirm your email address"), recipient=user, username=user.username,
                 url=link("auth.confirm_email", token=token), hours=int(CONFIRM_FOR.total_seconds() // 3600))


def pending_confirmation(token):
    """The confirmation a link's token names, while it is valid; else None. Changes nothing."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    return db.session.scalar(sa.select(EmailConfirmation).where(
        EmailConfirmation.token_hash == _hash(token), EmailConfirmation.expires_at > utcnow()))


def confirm(token):
    """Uses a link: its address becomes the account's (the old one is told), once. Returns the
    user, or None when the link is unknown, expired, used, or its address was taken meanwhile."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    # One DELETE takes the link: of two uses at once, one finds the row.
    found = db.session.execute(
        sa.delete(EmailConfirmation)
        .where(EmailConfirmation.token_hash == _hash(token), EmailConfirmation.expires_at > utcnow())
        .returning(EmailConfirmation.user_id, EmailConfirmation.address)
    ).one_or_none()
    if found is None:
        db.session.rollback()
        return None
    user = db.session.get(User, found.user_id)
    taken = by_email(found.address)
    if user is None or (taken is not None and taken.id != user.id):
        db.session.commit()  # the link is used up either way
        return None
    if user.email == found.address:
        db.session.commit()
        return user
    if user.email:
        # Recorded while the old address is still the account's: its notice goes there.
        events.record(events.EMAIL_CHANGED, user, detail=f"to {mask_email(found.address)}", commit=False)
    else:
        events.record(events.EMAIL_ADDED, user, detail=mask_email(found.address), commit=False)
    user.email = found.address
    try:
        db.session.flush()
    except sa.exc.IntegrityError:  # another account confirmed it a moment before
        db.session.rollback()
        return None
    # Other accounts' links to this address can never be used now.
    db.session.execute(sa.delete(EmailConfirmation).where(EmailConfirmation.address == found.address))
    db.session.commit()
    return user


def remove(user):
    """The account's address goes (the old address is told), and any link waiting."""
    events.record(events.EMAIL_REMOVED, user, detail=mask_email(user.email), commit=False)
    db.session.execute(sa.delete(EmailConfirmation).where(EmailConfirmation.user_id == user.id))
    user.email = None
    db.session.commit()


def cancel_pending(user):
    db.session.execute(sa.delete(EmailConfirmation).where(EmailConfirmation.user_id == user.id))
    db.session.commit()



class EmailAddressField(StringField):
    """"Email address": one address, checked by `parse_email`; `address` holds it as stored.
    Optional unless `required` names the message for an empty field."""

    def __init__(self, label=lazy_gettext("Email address"), required=None, **kwargs):
        render_kw = {"type": "email", "autocomplete": "email", "autocapitalize": "none", "spellcheck": "false",
                     "maxlength": 320}
        validators = [InputRequired(required)] if required else []
        super().__init__(label, validators=validators, render_kw=render_kw, **kwargs)
        self.address = None

    def pre_validate(self, form):
        self.address = None
        if not (self.data or "").strip():
            self.data = ""
            return
        try:
            self.address = parse_email(self.data)
        except InvalidEmail as error:
            raise ValidationError(str(error)) from None
