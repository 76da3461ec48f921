"""Mail: queued in the database in the transaction of the change that causes it, delivered outside
the request by a thread in each app process (app.mail.worker) or by `flask mail send-queued`.

Flask-Mailman does the sending: SMTP when MAIL_SERVER is set (in every environment); without it,
development writes each mail to the log (app.mail.console) and tests keep them in memory
(flask_mailman's locmem). Production refuses to start without a mail server unless
MAIL_DISABLED=1, which turns email off altogether: no addresses, no reset by email, no notices.
"""
from flask import current_app, has_request_context, request
from flask_mailman import Mail

from app.mail import worker
from app.mail.outbox import queue, send_queued  # noqa: F401  (the module's API)

mailman = Mail()

CONSOLE_BACKEND = "app.mail.console"


def default_backend(config):
    """Which Flask-Mailman backend delivers, or None when mail is off."""
    if config.get("MAIL_DISABLED"):
        return None
    if config.get("MAIL_BACKEND"):
        return config["MAIL_BACKEND"]
    if config.get("MAIL_SERVER"):
        return "smtp"
    return {"development": CONSOLE_BACKEND, "testing": "locmem"}.get(config.get("ENV_NAME"))


def init_app(app):
    backend = default_backend(app.config)
    app.config["MAIL_BACKEND"] = backend
    if backend is None:
        app.extensions["mail_enabled"] = False
        app.jinja_env.globals["mail_enabled"] = False
        return
    mailman.init_app(app)
    app.extensions["mail_enabled"] = True
    app.jinja_env.globals["mail_enabled"] = True
    worker.init_app(app)


def enabled():
    return bool(current_app.extensions.get("mail_enabled"))


def link(endpoint, **values):
    """An absolute link for a mail: APP_URL, else https:// and the first TRUSTED_HOSTS, else (in
    development, with neither) this request's own address. Never built from a Host header that
    TRUSTED_HOSTS did not check: a stranger would choose where a reset link points."""
    config = current_app.config
    base = config.get("APP_URL")
    if not base and config.get("TRUSTED_HOSTS"):
        scheme = "https" if config.get("ENV_NAME") == "production" else "http"
        base = f"{scheme}://{config['TRUSTED_HOSTS'][0].lstrip('.')}"  # (".example.com" allows its subdomains)
    if not base:
        base = request.host_url if has_request_context() else "http://127.0.0.1:5000"
    # Built from the URL map alone: a command-line change (no request) sends the same links.
    return base.rstrip("/") + current_app.url_map.bind("localhost").build(endpoint, values)
