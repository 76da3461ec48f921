"""Languages: the catalogs, the words of a page in its language, and the language menu.

Which language a page is in is decided in app/locales.py (`ui_language`); this module gives the
words in it. Mark a word for translation with the functions here, in Python and in templates
alike (`make translations-extract` finds them by these names):

    from app.i18n import _, gettext, ngettext, lazy_gettext
    flash(_("Your number is confirmed."))
    ngettext("%(num)d code left", "%(num)d codes left", count)
    label = lazy_gettext("Phone number")           # module level: translated when shown
    {{ _("Log in") }}   {{ ngettext("%(num)d try left", "%(num)d tries left", n) }}

Each catalog (app/translations/<language>/LC_MESSAGES/messages.mo) is read once per process, on
the first page in its language, and a page looks its words up in the one catalog of its
language: a dictionary look-up per word. (Flask-Babel, set up here too for its date, number and
time-zone formatting, would find its catalog again through three lookups of the request's state
on every word.) A word missing from a catalog shows in English.

The menu (`POST /language`, in every page's footer) is a form with a CSRF token and a button, so
it works without JavaScript, and a choice made by a third-party page (a cross-site form) is
refused like any other forged POST. It keeps the choice in a cookie for a year, and on the
account when someone is logged in, then goes back to the page it was sent from.
"""
import contextlib
import functools

from babel.support import NullTranslations, Translations
from flask import current_app, g, redirect, request
from flask_babel.speaklater import LazyString
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from jinja2 import pass_eval_context
from markupsafe import Markup, escape

from app.extensions import babel, db
from app.locales import (
    SOURCE_LANGUAGE, TRANSLATIONS, babel_locale, complete_languages, language, offered, offered_languages, page_state,
    ui_language,
)
from app.security import safe_next

YEAR = 365 * 24 * 3600
_CATALOGS = {}  # language tag -> its catalog, read once per process
_WTFORMS = {}  # language tag -> WTForms' own catalog in that language
_ENGLISH = NullTranslations()


def N_(string):
    """Marks a word for the catalogs without translating it here (it is translated where shown)."""
    return string


# -- the words of this page ----------------------------------------------------------------------

def catalog(tag):
    """The catalog of an offered language, read from disk once per process."""
    try:
        return _CATALOGS[tag]
    except KeyError:
        found = Translations.load(str(TRANSLATIONS), [language(tag).locale], "messages")
        return _CATALOGS.setdefault(tag, found)


def translations():
    """This page's catalog (English, untranslated, outside a request)."""
    state = page_state()
    if state is None:  # no app context
        return _ENGLISH
    try:
        return state.ui_translations
    except AttributeError:
        state.ui_translations = catalog(ui_language().tag)
        return state.ui_translations


@contextlib.contextmanager
def in_language(tag):
    """The words (and dates) written inside are in language `tag`, not the page's: a mail is in
    its recipient's language, and may be written outside any request (a command)."""
    saved = {name: g.get(name) for name in ("ui_language", "ui_translations")}
    g.ui_language, g.ui_translations = language(tag), catalog(tag)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                g.pop(name, None)
            else:
                setattr(g, name, value)


def gettext(string, **variables):
    translated = translations().ugettext(string)
    return translated % variables if variables else translated


def ngettext(singular, plural, num, **variables):
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


def pgettext(context, string, **variables):
    translated = translations().upgettext(context, string)
    return translated % variables if variables else translated


def npgettext(context, singular, plural, num, **variables):
    variables.setdefault("num", num)
    return translations().unpgettext(context, singular, plural, num) % variables


class _LazyWords(LazyString):
    """Flask-Babel's LazyString marks its text as safe HTML (`__html__` returns it as is): a
    translation holding `<` or `"` would reach the page raw. These words are escaped like any text."""

    def __html__(self):
        return escape(str(self))


def lazy_gettext(string, **variables):
    """For words defined before any request (form labels, module constants)."""
    return _LazyWords(gettext, string, **variables)


def lazy_ngettext(singular, plural, num, **variables):
    return _LazyWords(ngettext, singular, plural, num, **variables)


def lazy_pgettext(context, string, **variables):
    return _LazyWords(pgettext, context, string, **variables)


_ = gettext


# Templates. Jinja's own newstyle callables wrap each word in three calls through the template's
# context; these do the same in one: the translation, as Markup when the template escapes
# (HTML, not the .txt mails), always formatted with its %(name)s values (so "%%" is "%" alike).
# Their own arguments are positional-only, so a value may be called `num` or `string`.
@pass_eval_context
def _template_gettext(eval_ctx, string, /, **variables):
    return _formatted(eval_ctx, translations().ugettext(string), variables)


@pass_eval_context
def _template_ngettext(eval_ctx, singular, plural, num, /, **variables):
    variables.setdefault("num", num)
    return _formatted(eval_ctx, translations().ungettext(singular, plural, num), variables)


@pass_eval_context
def _template_pgettext(eval_ctx, context, string, /, **variables):
    variables.setdefault("context", context)
    return _formatted(eval_ctx, translations().upgettext(context, string), variables)


@pass_eval_context
def _template_npgettext(eval_ctx, context, singular, plural, num, /, **variables):
    variables.setdefault("context", context)
    variables.setdefault("num", num)
    return _formatted(eval_ctx, translations().unpgettext(context, singular, plural, num), variables)


def _formatted(eval_ctx, translated, variables):
    if eval_ctx.autoescape:
        translated = Markup(translated)
    return translated % variables if variables or "%" in translated else translated


def wtforms_translations():
    """WTForms' catalog (its built-in messages) for this page's language, loaded once per process;
    None for English, the language WTForms is written in."""
    current = ui_language()
    if current.tag == SOURCE_LANGUAGE:
        return None
    try:
        return _WTFORMS[current.tag]
    except KeyError:
        from wtforms.i18n import messages_path

        return _WTFORMS.setdefault(current.tag, Translations.load(messages_path(), [current.locale], "wtforms"))


# -- the language menu ---------------------------------------------------------------------------

DESCRIPTION = N_("Your account, protected by two-factor authentication: a code by text message, phone call or "
                 "authenticator app each time you log in.")


def head_links():
    """The page's description (search engines show it) and its icons, in the page's language,
    written once per language."""
    tag = ui_language().tag
    try:
        return _HEAD_LINKS[request.script_root, tag]
    except KeyError:
        from app.assets import asset_url

        links = Markup(
            f'<meta name="description" content="{escape(catalog(tag).ugettext(DESCRIPTION))}">\n'
            f'  <link rel="icon" href="{asset_url("static", "favicon.ico")}" sizes="32x32">\n'
            f'  <link rel="icon" href="{asset_url("static", "favicon.svg")}" type="image/svg+xml">')
        return _HEAD_LINKS.setdefault((request.script_root, tag), links)


_HEAD_LINKS = {}  # (mount point, language tag) -> the head's description and icon links

# What the page scripts say, passed to them as data attributes (the scripts hold no words).
SCRIPT_WORDS = {
    # static/webauthn.js, while it waits for the browser and when the browser fails
    "passkey": (
        ("waiting", N_("Waiting for your passkey or security key…")),
        ("cancelled", N_("Nothing was done: the request was cancelled or timed out. Try again, or use another way.")),
        ("exists", N_("This passkey or security key is already set up for your account.")),
        ("bad-address", N_("Passkeys don't work at this address. Open the site by its name (for example localhost, "
                           "not 127.0.0.1).")),
        ("failed", N_("Your browser couldn't use a passkey just now. Try again, or use another way.")),
    ),
}


def script_words(script):
    """`data-<script>-<name>="…"` attributes holding a script's words in the page's language."""
    return _script_words(script, ui_language().tag)


@functools.lru_cache(maxsize=64)
def _script_words(script, tag):
    words = catalog(tag)
    return Markup(" ".join(f'data-{script}-{name}="{escape(words.ugettext(message))}"'
                           for name, message in SCRIPT_WORDS[script]))


MENU_LABEL = N_("Language")
MENU_BUTTON = N_("Change language")


def back_here():
    """Where the menu returns to: this page's address (with its query when it was a GET)."""
    current = request._get_current_object()
    if current.query_string and current.method == "GET":
        return f"{current.path}?{current.query_string.decode('latin-1')}"
    return current.path


def language_menu():
    """The footer's menu: a form whose parts are written once per language (and per mount point
    of the app); the page adds its CSRF token and its own address. Each language is named in
    itself, in the order LANGUAGES gives (English first). The label is for screen readers: the
    names and the button ("Change language") say what it is, and on a phone the three fit one line."""
    head, tail = _menu_parts(request.script_root, ui_language().tag, current_app.config["LANGUAGES"])
    token = g.get("csrf_token") or generate_csrf()  # (the page's forms made it already, as a rule)
    return Markup(f'{head}<input name="csrf_token" type="hidden" value="{token}">\n'
                  f'    <input name="next" type="hidden" value="{escape(back_here())}">\n{tail}')


@functools.lru_cache(maxsize=64)
def _menu_parts(script_root, current, tags):
    words = catalog(current)
    options = "".join(
        f'\n      <option value="{option.tag}" lang="{option.tag}" dir="{option.dir}"'
        f'{" selected" if option.tag == current else ""}>{escape(option.name)}</option>'
        for option in map(language, tags)
    )
    head = (f'<footer class="container mt-5 mb-3 pt-3 border-top">\n'
            f'  <form method="post" action="{escape(script_root)}/language" '
            f'class="d-flex flex-wrap align-items-center gap-2">\n    ')
    tail = (f'    <label for="language-menu" class="visually-hidden">{escape(words.ugettext(MENU_LABEL))}</label>\n'
            f'    <select id="language-menu" name="language" class="form-select form-select-sm w-auto">'
            f'{options}\n    </select>\n'
            f'    <button type="submit" class="btn btn-outline-secondary btn-sm">'
            f'{escape(words.ugettext(MENU_BUTTON))}</button>\n  </form>\n</footer>')
    return head, tail


def choose_language():
    """The language menu: the cookie, and the account when logged in; then back to the page."""
    from app.errors import error_page

    tag = offered(request.form.get("language"))
    if tag is None:
        return error_page(400)
    if current_user.is_authenticated and current_user.locale != tag:
        current_user.locale = tag
        db.session.commit()
    response = redirect(safe_next(request.form.get("next"), "index"))
    config = current_app.config
    response.set_cookie(
        config["LOCALE_COOKIE"], tag, max_age=YEAR, path="/", httponly=True, samesite="Lax",
        secure=bool(config.get("SESSION_COOKIE_SECURE")),
    )
    return response


def vary_by_language(response):
    """A page whose language was decided says what it depended on, for caches in between."""
    if "ui_language" in g:
        response.headers.add("Vary", "Accept-Language, Cookie")
    return response


def init_app(app):
    app.config["LANGUAGES"] = offered_languages(app.config.get("LANGUAGES"))
    complete = complete_languages()
    app.extensions["negotiable_languages"] = tuple(tag for tag in app.config["LANGUAGES"] if tag in complete)
    babel.init_app(
        app,
        default_locale=SOURCE_LANGUAGE,
        default_timezone="UTC",
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=babel_locale,
    )
    # Flask-Babel installed Jinja's i18n extension (for {% trans %}) with its own callables, and
    # its date filters; these callables replace the former.
    app.jinja_env.newstyle_gettext = True
    from app.dates import utc_text

    app.jinja_env.globals.update(
        _=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext,
        pgettext=_template_pgettext, npgettext=_template_npgettext,
        ui_language=ui_language, language_menu=language_menu, head_links=head_links, script_words=script_words,
        utc_moment=utc_text,
    )
    app.after_request(vary_by_language)
    app.add_url_rule("/language", "choose_language", choose_language, methods=["POST"])
