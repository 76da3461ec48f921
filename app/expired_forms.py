"""An expired form (its CSRF token missing, stale, or from another site) is shown again, with what
was typed (never a password) and one sentence, instead of a bare error page.

Flask-WTF's own check runs first among the request hooks, before the session rules; this one runs
last, once a session that should end has ended. On a page that has a form (its address answers GET
too), the view then runs with every form of the app refusing to validate (`AppForm.validate`), so
it can only show the form again; the answer is a 400 whatever the view returned (a view that had
no form to show, and redirected, is answered with the plain page). An address that only takes a
button's POST has no page to show: it gets the plain "Your form expired" page, as before.
"""
from flask import current_app, g, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError

from app.errors import form_expired_page
from app.extensions import csrf
from app.i18n import lazy_gettext

# Shown among a form's errors (app.forms.AppForm), in the language of the page that shows it.
FORM_EXPIRED = lazy_gettext("This form had expired, so nothing was done. Please check it and send it again.")


def init_app(app):
    """Call after every other before_request hook is registered."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(check_csrf_token)
    app.after_request(answer_with_400)


def check_csrf_token():
    if not current_app.config["WTF_CSRF_ENABLED"] or request.method not in current_app.config["WTF_CSRF_METHODS"]:
        return
    try:
        csrf.protect(apply_exemptions=True)
    except CSRFError:
        if not has_a_page():
            raise
        g.form_expired = True


def has_a_page():
    """Whether the address answers GET too; its page may be a view of its own (the login page)."""
    if request.url_rule is None:
        return False
    return "GET" in request.url_rule.methods or request_ctx.url_adapter.test(request.path, "GET")


def form_expired():
    return g.get("form_expired", False)


def answer_with_400(response):
    if not form_expired() or response.status_code >= 400:
        return response
    if 300 <= response.status_code < 400:
        return form_expired_page()
    response.status_code = 400
    return response
