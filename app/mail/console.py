"""Development mail backend: each mail goes to the server log as one entry, like the development
codes (app.verification.console). The address is masked; the text, with its link, is the point.
Never used in production, which sends by SMTP or not at all."""
import logging

from flask_mailman.backends.base import BaseEmailBackend

log = logging.getLogger(__name__)


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        from app.emails import mask_email

        for message in email_messages:
            to = ", ".join(mask_email(address) for address in message.to)
            log.warning("DEVELOPMENT MAIL to %s: %s\n%s", to, message.subject, message.body)
        return len(email_messages)
