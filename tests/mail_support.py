"""Mail in the tests: a real SMTP server (aiosmtpd on 127.0.0.1, a random port) and helpers that
deliver the outbox and read what was sent, through SMTP or flask_mailman's in-memory backend."""
import asyncio
import email
import email.policy
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller

from app.extensions import db
from app.mail import send_queued
from tests.support import free_port

LINK = re.compile(r"https?://[^\s\"<>]+")


def words(response):
    """The page's words as a person reads them: tags gone, entities decoded, spaces collapsed."""
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split()).replace(" .", ".")


@dataclass
class Mail:
    to: list
    subject: str
    text: str
    html: str
    headers: dict

    def links(self):
        return LINK.findall(self.text)

    def link_path(self, part):
        """The path and query of the first link whose path holds `part`, as a test client asks for it."""
        for url in self.links():
            if part in url:
                parts = urlsplit(url)
                return parts.path + (f"?{parts.query}" if parts.query else "")
        raise AssertionError(f"no link with {part!r} in {self.links()}")


class SMTPServer:
    """A real SMTP server. `stop()` then `start()` brings it back on the same port (a server that
    was down); `delay` makes it slow to accept a message; `refuse` answers RCPT with a 550."""

    def __init__(self):
        self.port = free_port()
        self.messages = []
        self.delay = 0.0
        self.refuse = False
        self.controller = None
        self.received = threading.Condition()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.received:
            self.messages.append((envelope.rcpt_tos, message))
            self.received.notify_all()
        return "250 Message accepted"

    def start(self):
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def mails(self):
        return [as_mail(rcpt, message) for rcpt, message in self.messages]

    def wait_for(self, count, timeout=10):
        """Every mail received once `count` have come (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        with self.received:
            while len(self.messages) < count and time.monotonic() < deadline:
                self.received.wait(max(0.01, deadline - time.monotonic()))
        return self.mails()


def as_mail(rcpt, message):
    text = message.get_body(("plain",)).get_content()
    html_part = message.get_body(("html",))
    return Mail(list(rcpt), str(message["Subject"]), text, html_part.get_content() if html_part else "",
                {key: str(value) for key, value in message.items()})


def smtp_settings(server):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": server.port, "MAIL_TIMEOUT": 5}


def deliver(app, **kwargs):
    """What the delivery thread does: send what is due. Returns how many were delivered."""
    with app.app_context():
        try:
            return send_queued(**kwargs)
        finally:
            db.session.remove()


def sent_mails(app):
    """Every mail delivered so far by the in-memory backend (TestingConfig's), after delivering
    what is due."""
    deliver(app)
    state = app.extensions["mailman"]
    return [Mail(list(m.to), m.subject, m.body, m.alternatives[0][0] if m.alternatives else "",
                 dict(m.extra_headers)) for m in getattr(state, "outbox", [])]


def mails_to(app, address):
    return [mail for mail in sent_mails(app) if address in mail.to]
