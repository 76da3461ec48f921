"""The outbox: mail waits in the database until it is delivered.

`queue()` adds a row to the caller's transaction, so a mail exists exactly when the change that
causes it was committed. `send_queued()` delivers what is due: it claims rows with one conditional
UPDATE (the claim moves `next_attempt_at` a lease ahead, so another process's claim, made at the
same moment, finds nothing left), sends them, then clears each delivered row's address and bodies.
A mail that fails is tried again with a growing wait; one the server refuses for good (a 5xx for
its recipient), or that is still undelivered after GIVE_UP_AFTER, is given up. A process that dies
mid-send leaves its claim to expire: the mail is tried again after LEASE (at least once, never
lost).
"""
import logging
import re
import smtplib
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import QueuedMail, UTCDateTime, utcnow

log = logging.getLogger(__name__)

BATCH = 20  # rows one claim takes
LEASE = timedelta(minutes=5)  # a claim's hold on its rows: longer than a batch can take to send
FIRST_RETRY = timedelta(seconds=30)  # then 1, 2, 4 ... minutes, at most MAX_RETRY
MAX_RETRY = timedelta(minutes=30)
GIVE_UP_AFTER = timedelta(days=3)  # as mail servers do
KEEP_DELIVERED = timedelta(days=1)  # an emptied row (no address, no body) before it is deleted
WAKE = "mail_queued"  # set in a session's info when it queued mail: its commit wakes the thread
ADDRESS = re.compile(r"[^\s'\"<>(){},;:]+@[^\s'\"<>(){},;:]+")


def queue(to, subject, text, html):
    """Adds a mail to the current transaction; it is delivered once that commits."""
    db.session.add(QueuedMail(to_address=to, subject=subject, text=text, html=html, attempts=0,
                              created_at=utcnow(), next_attempt_at=utcnow()))
    db.session.info[WAKE] = True


def retry_after(attempts):
    return min(MAX_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1))


def short_error(error):
    """What went wrong, in at most 200 characters and without an address: it is stored and logged."""
    text = f"{type(error).__name__}: {error}"
    text = ADDRESS.sub("[address]", " ".join(text.split()))
    return text[:200]


def is_permanent(error):
    """A refusal that trying again won't change: the server refused the recipient (5xx), or the
    message itself can't be sent. A server that is down, slow, or refuses our login is temporary."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPDataError):
        return error.smtp_code >= 500
    return isinstance(error, (ValueError, UnicodeError))  # BadHeaderError is a ValueError


PER_MESSAGE = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused)


def is_connection_error(error):
    """An error that every other mail of the batch would meet too: the server is down, slow, or
    refuses us (every smtplib error is an OSError; those about one message are not this)."""
    return isinstance(error, OSError) and not isinstance(error, PER_MESSAGE)


def claim(now, limit=BATCH):
    """Takes up to `limit` due mails for this process, in one conditional UPDATE, and commits."""
    due = sa.and_(QueuedMail.sent_at.is_(None), QueuedMail.next_attempt_at <= now)
    # SKIP LOCKED (PostgreSQL; SQLite writes one at a time anyway): a process claiming at the same
    # moment takes other rows instead of waiting; the repeated `due` makes a row claimed meanwhile
    # not this claim's.
    ids = (sa.select(QueuedMail.id).where(due).order_by(QueuedMail.next_attempt_at, QueuedMail.id).limit(limit)
           .with_for_update(skip_locked=True))
    rows = db.session.execute(
        sa.update(QueuedMail)
        .where(QueuedMail.id.in_(ids), due)
        .values(next_attempt_at=sa.literal(now + LEASE, UTCDateTime()), attempts=QueuedMail.attempts + 1)
        .returning(QueuedMail.id, QueuedMail.to_address, QueuedMail.subject, QueuedMail.text, QueuedMail.html,
                   QueuedMail.attempts, QueuedMail.created_at)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(rows, key=lambda row: row.id)


def delivered(row, now):
    db.session.execute(
        sa.update(QueuedMail).where(QueuedMail.id == row.id)
        .values(sent_at=now, next_attempt_at=None, to_address="", subject="", text="", html="", last_error=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.info("Mail %s delivered (attempt %s)", row.id, row.attempts)


def failed(row, error, now):
    message = short_error(error)
    give_up = is_permanent(error) or now - row.created_at >= GIVE_UP_AFTER
    if give_up:
        values = {"next_attempt_at": None, "to_address": "", "subject": "", "text": "", "html": ""}
        log.warning("Mail %s given up after %s attempts: %s", row.id, row.attempts, message)
    else:
        wait = retry_after(row.attempts)
        values = {"next_attempt_at": now + wait}
        log.warning("Mail %s not delivered (attempt %s), next try in %d s: %s",
                    row.id, row.attempts, wait.total_seconds(), message)
    db.session.execute(
        sa.update(QueuedMail).where(QueuedMail.id == row.id).values(last_error=message, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def message_of(row, connection):
    from flask_mailman import EmailMultiAlternatives

    mail = EmailMultiAlternatives(row.subject, row.text, current_app.config["MAIL_DEFAULT_SENDER"], [row.to_address],
                                  connection=connection, headers={"Auto-Submitted": "auto-generated"})
    mail.attach_alternative(row.html, "text/html")
    return mail


def send_batch(rows, now):
    """Sends claimed rows over one connection; returns how many were delivered."""
    from app.mail import mailman

    connection = mailman.get_connection()
    sent = 0
    try:
        for index, row in enumerate(rows):
            try:
                connection.open()
                message_of(row, connection).send()
            except Exception as error:  # noqa: BLE001 - whatever the backend raises, the mail waits
                failed(row, error, now)
                if is_connection_error(error):
                    for other in rows[index + 1:]:
                        failed(other, error, now)
                    break
            else:
                delivered(row, now)
                sent += 1
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection: nothing left to do
            pass
    return sent


def send_queued(now=None, limit=None):
    """Delivers every mail due now (at most `limit`); returns how many were delivered. Safe to run
    in any number of processes at once: each mail is claimed by one."""
    now = now or utcnow()
    sent = tried = 0
    while limit is None or tried < limit:
        rows = claim(now, BATCH if limit is None else min(BATCH, limit - tried))
        if not rows:
            break
        tried += len(rows)
        sent += send_batch(rows, now)
    db.session.execute(sa.delete(QueuedMail).where(QueuedMail.next_attempt_at.is_(None),
                                                   QueuedMail.created_at < now - KEEP_DELIVERED))
    db.session.commit()
    return sent


def next_due():
    """When the next mail waiting is due (None when none waits)."""
    return db.session.scalar(sa.select(sa.func.min(QueuedMail.next_attempt_at)).where(QueuedMail.sent_at.is_(None)))


def counts():
    """(waiting, of which failed at least once, given up) for `flask mail send-queued`."""
    waiting = QueuedMail.next_attempt_at.is_not(None)
    row = db.session.execute(sa.select(
        sa.func.count().filter(waiting),
        sa.func.count().filter(waiting, QueuedMail.attempts > 0),
        sa.func.count().filter(QueuedMail.next_attempt_at.is_(None), QueuedMail.sent_at.is_(None)),
    )).one()
    return tuple(row)
