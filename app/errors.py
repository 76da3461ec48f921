"""Error pages: 400, 404, 405, 413, 429 and 500, and the pages for an expired form and for a
verification failure that no view caught.

They are rendered from their template alone, with no session, user or form (Flask's
render_template would run the context processors, which load the user and build the log-out
form from the session), so they still work when the session store cannot be reached. The one
exception is a 429 on the login page, which keeps the login form usable.
"""
import math
import time

from flask import current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

from app.extensions import db, limiter
from app.i18n import N_, _
from app.locales import pin_visitor_language
from app.waits import wait_in_words

# Marked here, translated when a page shows them (in the visitor's language).
PAGES = {
    400: (N_("Something is wrong with that request"), N_("Please go back, reload the page and try again.")),
    404: (N_("Page not found"),
          N_("If you typed the address, check it is right. If you followed a link, it may be out of date.")),
    405: (N_("This page can't be opened like that"),
          N_("This address works only from the button on its page. Go back and use the button.")),
    413: (N_("What you sent is too large"),
          N_("Nothing was saved. Go back, shorten what you typed and send it again.")),
    429: (N_("Too many attempts"), N_("For your security we limit how often this can be tried.")),
    500: (N_("Something went wrong"), N_("We couldn't finish that request. Nothing was changed. Please try again.")),
}
FORM_EXPIRED_TITLE = N_("Your form expired")
CSRF_EXPIRED = N_("Your form expired or was sent from another site. Please try again.")


def error_page(status, title=None, message=None, headers=None, **context):
    """The error page; `title` and `message` are already in the page's language (call
    pin_visitor_language first), the defaults are translated here."""
    default_title, default_message = PAGES.get(status, PAGES[500])
    pin_visitor_language()  # the cookie's or the browser's: never the account's (see above)
    body = current_app.jinja_env.get_template("errors/error.html").render(
        title=title or _(default_title), message=message or _(default_message), **context
    )
    response = current_app.response_class(body, status, mimetype="text/html")
    response.headers.update(headers or {})
    return response


def passed_on_headers(error):
    """The error's own headers that a person's browser needs (Allow on a 405, Retry-After)."""
    return {name: value for name, value in error.get_headers() if name in ("Allow", "Retry-After")}


def seconds_to_wait(error):
    """The error's Retry-After, else what is left of the Flask-Limiter window that was hit."""
    retry_after = dict(error.get_headers()).get("Retry-After")
    if retry_after is not None:
        return int(retry_after)
    limit = getattr(error, "limit", None) and limiter.current_limit
    return max(1, math.ceil(limit.reset_at - time.time())) if limit is not None else None


def own_sentence(error):
    """A limit's own sentence, when it has one (e.g. too many logins for one account), in the
    page's language."""
    sentence = getattr(error, "sentence", None) or getattr(getattr(error, "limit", None), "error_message", None)
    return str(sentence) if sentence else None


def try_again(wait):
    return _("Please try again in %(wait)s.", wait=wait_in_words(wait)) if wait else _("Please try again later.")


def login_page_after_too_many(wait, reason=None):
    """The login page again, what was typed kept (never the password), with the wait written out."""
    from app.auth.forms import LoginForm

    # Two sentences: the reason, then when to try again.
    message = f"{reason or _('Too many attempts to log in.')} {try_again(wait)}"
    return render_template("auth/login.html", form=LoginForm(), page_error=message)


def form_expired_page():
    """The plain page for a form whose CSRF token failed, where there is no form to show again."""
    pin_visitor_language()
    return error_page(400, _(FORM_EXPIRED_TITLE), _(CSRF_EXPIRED))


def register_errorhandlers(app):
    from app.verification import VerificationError

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return form_expired_page()

    @app.errorhandler(429)
    def too_many_requests(error):
        wait = seconds_to_wait(error)
        headers = {"Retry-After": str(wait)} if wait else {}
        if request.endpoint == "auth.login" and request.method == "POST":
            return login_page_after_too_many(wait, own_sentence(error)), 429, headers
        pin_visitor_language()
        message = f"{own_sentence(error) or _(PAGES[429][1])} {try_again(wait)}"
        return error_page(429, message=message, headers=headers)

    @app.errorhandler(VerificationError)
    def verification_error(error):
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
        pin_visitor_language()
        return error_page(error.status, _("We couldn't do that"), error.message, headers)

    @app.errorhandler(SecurityError)
    def untrusted_host(error):
        """A Host header outside TRUSTED_HOSTS: no URL can be built for it, so a page that needs none."""
        pin_visitor_language()
        body = current_app.jinja_env.get_template("errors/bad_host.html").render()
        return current_app.response_class(body, 400, mimetype="text/html")

    @app.errorhandler(HTTPException)
    def http_error(error):
        if error.code in PAGES:
            return error_page(error.code, headers=passed_on_headers(error))
        # Werkzeug's own words for a status the app has no page for (an operator's concern, in English).
        return error_page(error.code, error.name, error.description, passed_on_headers(error))

    @app.errorhandler(Exception)
    def unexpected_error(error):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return error_page(500)
