"""Mails written from templates: templates/mail/<name>.txt and .html, rendered from the template
alone (no request, no user, no context processors), so a command-line change sends the same mail.
The HTML is autoescaped (every value a person typed is escaped); it loads nothing from elsewhere
and carries no tracking: no images, no pixels, no redirecting links.

A mail is in its recipient's language: the one saved on their account, else the language of the
page that caused it (English from a command). It is written when queued, so the delivery thread
sends words already in that language."""
from flask import current_app
from flask_babel.speaklater import LazyString

from app.i18n import gettext, in_language
from app.locales import offered, ui_language


def language_of(recipient):
    """The language tag to write to `recipient` (a User, or None for an address alone) in."""
    return offered(getattr(recipient, "locale", None)) or ui_language().tag


def render(name, subject, **context):
    """(subject, text, html) of mail `name`, in the current language. `subject`: its English
    words (marked with N_), or a lazy_gettext string."""
    subject = str(subject) if isinstance(subject, LazyString) else gettext(subject)
    env = current_app.jinja_env
    context = {"app_name": current_app.config["APP_NAME"], "subject": subject, **context}
    text = env.get_template(f"mail/{name}.txt").render(**context)
    html = env.get_template(f"mail/{name}.html").render(**context)
    return subject, text, html


def send(to, name, subject, recipient=None, **context):
    """Queues mail `name` to `to` in the current transaction, in the language of `recipient`
    (the account the address belongs to, when there is one)."""
    from app.mail.outbox import queue

    with in_language(language_of(recipient)):
        queue(to, *render(name, subject, **context))
