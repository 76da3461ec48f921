"""The delivery thread: one per app process, started by the first request the process serves (so
a mail left undelivered by a process that stopped is picked up by its successor), woken when a
request of this process commits a mail, and otherwise looking every MAIL_POLL_SECONDS for mail
queued by other processes or due for another try. Requests never wait for it.

TestingConfig leaves it off (MAIL_DELIVERY_THREAD=False): tests call app.mail.send_queued().
"""
import logging
import threading

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app, has_app_context

from app.extensions import db
from app.mail import outbox
from app.models import utcnow

log = logging.getLogger(__name__)

MIN_WAIT = 0.2  # seconds between two passes, at least


class DeliveryThread:
    def __init__(self, app):
        self.app = app
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.thread = None  # after a fork, the parent's thread is not alive in the child
        self.stopping = False

    def ensure_started(self):
        if self.stopping or (self.thread is not None and self.thread.is_alive()):
            return
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.run, name="mail-delivery", daemon=True)
                self.thread.start()

    def stop(self, timeout=10):
        """Ends the thread after its current pass (tests; a process that exits just leaves it)."""
        self.stopping = True
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def run(self):
        while not self.stopping:
            wait = self.app.config["MAIL_POLL_SECONDS"]
            with self.app.app_context():
                try:
                    outbox.send_queued()
                    due = outbox.next_due()
                    if due is not None:
                        wait = min(wait, (due - utcnow()).total_seconds())
                except sa.exc.SQLAlchemyError as error:
                    log.warning("Mail delivery could not read the outbox, trying again in %s s: %s",
                                wait, type(error).__name__)
                except Exception:  # noqa: BLE001 - the thread must outlive any one pass
                    log.exception("Mail delivery failed; trying again in %s s", wait)
                finally:
                    db.session.remove()
            self.wake.wait(max(MIN_WAIT, wait))
            self.wake.clear()


def init_app(app):
    if not app.config.get("MAIL_DELIVERY_THREAD"):
        return
    delivery = app.extensions["mail_delivery"] = DeliveryThread(app)
    app.before_request(delivery.ensure_started)


@sa.event.listens_for(so.Session, "after_commit")
def wake_after_a_mail_is_committed(session):
    if session.info.pop(outbox.WAKE, False) and has_app_context():
        delivery = current_app.extensions.get("mail_delivery")
        if delivery is not None:
            delivery.ensure_started()
            delivery.wake.set()


@sa.event.listens_for(so.Session, "after_rollback")
def nothing_to_wake_after_a_rollback(session):
    session.info.pop(outbox.WAKE, None)
