"""Mails written from templates: templates/mail/<name>.txt and .html, rendered from the template
alone (no request, no user, no context processors), so a command-line change sends the same mail.
The HTML is autoescaped (every value a person typed is escaped); it loads nothing from elsewhere
and carries no tracking: no images, no pixels, no redirecting links."""
from flask import current_app


def render(name, subject, **context):
    """(subject, text, html) of mail `name`."""
    env = current_app.jinja_env
    context = {"app_name": current_app.config["APP_NAME"], "subject": subject, **context}
    text = env.get_template(f"mail/{name}.txt").render(**context)
    html = env.get_template(f"mail/{name}.html").render(**context)
    return subject, text, html


def send(to, name, subject, **context):
    """Queues mail `name` to `to` in the current transaction."""
    from app.mail.outbox import queue

    queue(to, *render(name, subject, **context))
