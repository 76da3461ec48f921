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
from app.locales import pin_visitor_language
from app.waits import wait_in_words

PAGES = {
    400: ("Something is wrong with that request", "Please go back, reload the page and try again."),
    404: ("Page not found",
          "If you typed the address, check it is right. If you followed a link, it may be out of date."),
    405: ("This page can't be opened like that",
          "This address works only from the button on its page. Go back and use the button."),
    413: ("What you sent is too large", "Nothing was saved. Go back, shorten what you typed and send it again."),
    429: ("Too many attempts", "For your security we limit how often this can be tried."),
    500: ("Something went wrong", "We couldn't finish that request. Nothing was changed. Please try again."),
}
CSRF_EXPIRED = "Your form expired or was sent from another site. Please try again."


def error_page(status, title=None, message=None, headers=None, **context):
    default_title, default_message = PAGES.get(status, PAGES[500])
    pin_visitor_language()  # the cookie's or the browser's: never the account's (see above)
    body = current_app.jinja_env.get_template("errors/error.html").render(
        title=title or default_title, message=message or default_message, **context
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
    """A limit's own sentence, when it has one (e.g. too many logins for one account)."""
    return getattr(error, "sentence", None) or getattr(getattr(error, "limit", None), "error_message", None)


def login_page_after_too_many(wait, reason=None):
    """The login page again, what was typed kept (never the password), with the wait written out."""
    from app.auth.forms import LoginForm

    message = (reason or "Too many attempts to log in.") + " " + (
        f"Please try again in {wait_in_words(wait)}." if wait else "Please try again later.")
    return render_template("auth/login.html", form=LoginForm(), page_error=message)


def register_errorhandlers(app):
    from app.verification import VerificationError

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_page(400, "Your form expired", CSRF_EXPIRED)

    @app.errorhandler(429)
    def too_many_requests(error):
        wait = seconds_to_wait(error)
        headers = {"Retry-After": str(wait)} if wait else {}
        if request.endpoint == "auth.login" and request.method == "POST":
            return login_page_after_too_many(wait, own_sentence(error)), 429, headers
        again = f"Please try again in {wait_in_words(wait)}." if wait else "Please try again later."
        return error_page(429, message=f"{own_sentence(error) or PAGES[429][1]} {again}", headers=headers)

    @app.errorhandler(VerificationError)
    def verification_error(error):
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
        return error_page(error.status, "We couldn't do that", error.message, headers)

    @app.errorhandler(SecurityError)
    def untrusted_host(error):
        """A Host header outside TRUSTED_HOSTS: no URL can be built for it, so a page that needs none."""
        body = current_app.jinja_env.get_template("errors/bad_host.html").render()
        return current_app.response_class(body, 400, mimetype="text/html")

    @app.errorhandler(HTTPException)
    def http_error(error):
        title, message = PAGES.get(error.code, (error.name, error.description))
        return error_page(error.code, title, message, passed_on_headers(error))

    @app.errorhandler(Exception)
    def unexpected_error(error):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return error_page(500)
