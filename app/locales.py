"""The person's language: one place decides it, for the pages and for the codes.

The pages (`ui_language`): the choice made in the language menu, saved on the account when
logged in and kept in a cookie for everyone; else the first language of the browser's
Accept-Language that the app ships (LANGUAGES, see `shipped_languages`); else English.

A catalog with words still untranslated is offered in the menu (its pages fall back to English
word by word) but never picked from Accept-Language alone, so nobody gets a page half in another
language without asking for it.

A code's SMS or call (`request_locale`): that same choice when Twilio Verify speaks it (with the
browser's region when it names the same language: `en-GB` for English); else the browser's first
language that Verify speaks; else VERIFY_DEFAULT_LOCALE.

VERIFY_LOCALES is the table "Verify Default template" of Twilio's page "Verify supported
languages" (https://www.twilio.com/docs/verify/supported-languages): the `Locale` values Verify
accepts for SMS and voice with its default template. Verify answers 404 for any other value.
"""
import functools
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from flask import current_app, g, has_request_context, request, session
from flask.globals import _cv_app
from flask_login import current_user
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

VERIFY_LOCALES = {
    "af": "Afrikaans",
    "ar": "Arabic",
    "ca": "Catalan",
    "zh": "Chinese",
    "zh-CN": "Chinese (Mandarin)",
    "zh-HK": "Chinese (Cantonese)",
    "hr": "Croatian",
    "cs": "Czech",
    "da": "Danish",
    "nl": "Dutch",
    "en": "English",
    "en-GB": "English (British)",
    "et": "Estonian",
    "fi": "Finnish",
    "fr": "French",
    "de": "German",
    "el": "Greek",
    "he": "Hebrew",
    "hi": "Hindi",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "kn": "Kannada",
    "ko": "Korean",
    "lt": "Lithuanian",
    "ms": "Malay",
    "mr": "Marathi",
    "nb": "Norwegian",
    "pl": "Polish",
    "pt-BR": "Portuguese (Brazil)",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "es": "Spanish",
    "sv": "Swedish",
    "tl": "Tagalog",
    "te": "Telugu",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
}

# Browser language codes that name a language Verify knows by another code.
SAME_LANGUAGE = {"no": "nb", "nn": "nb", "fil": "tl", "iw": "he", "in": "id"}

# VERIFY_DEFAULT_LOCALE=auto sends no Locale: Verify then picks the language from the number.
AUTO = "auto"

_BY_LOWER_CASE = {tag.lower(): tag for tag in VERIFY_LOCALES}

# A browser sends a few languages in a few dozen characters; a request may carry hundreds of
# kilobytes of Accept-Language, and parsing all of it would cost a worker most of a second.
ACCEPT_LANGUAGE_CHARACTERS = 256
ACCEPT_LANGUAGE_ENTRIES = 12


def accepted_languages():
    """The browser's languages, best first, from the first entries of Accept-Language only."""
    header = request.headers.get("Accept-Language", "")
    if len(header) > ACCEPT_LANGUAGE_CHARACTERS:
        header = header[:ACCEPT_LANGUAGE_CHARACTERS].rpartition(",")[0]  # no entry cut in half
    return _parsed_languages(header)


# Every page reads the header now (its language); browsers send a few common values, so the
# parsed lists of the last few hundred headers (each at most 256 characters) are kept.
@functools.lru_cache(maxsize=512)
def _parsed_languages(header):
    entries = header.split(",", ACCEPT_LANGUAGE_ENTRIES)[:ACCEPT_LANGUAGE_ENTRIES]
    return parse_accept_header(",".join(entries), LanguageAccept)


def match_locale(accepted, default=None, among=None):
    """The Verify locale for a browser's languages, `accepted` as (tag, quality) pairs in order of
    preference: the first language that matches exactly (`pt-BR`) or by its language alone
    (`es-MX` -> `es`), else `default`. `among` (lower-case tag -> tag) matches against another
    list instead of Verify's, e.g. the app's own languages."""
    by_lower_case = _BY_LOWER_CASE if among is None else among
    for tag, quality in accepted:
        if quality <= 0 or tag == "*":
            continue
        tag = tag.replace("_", "-").lower()
        if tag in by_lower_case:
            return by_lower_case[tag]
        language = tag.split("-")[0]
        language = SAME_LANGUAGE.get(language, language)
        if language in by_lower_case:
            return by_lower_case[language]
    return default


def default_locale(setting):
    """VERIFY_DEFAULT_LOCALE as Verify spells it (None for `auto`); SystemExit naming the variable
    when Verify does not know it."""
    value = (setting or "en").strip()
    if value.lower() == AUTO:
        return None
    if value.lower() not in _BY_LOWER_CASE:
        raise SystemExit(
            f"VERIFY_DEFAULT_LOCALE must be one of the languages Twilio Verify supports "
            f"({', '.join(VERIFY_LOCALES)}) or 'auto', not {value!r}."
        )
    return _BY_LOWER_CASE[value.lower()]


def request_locale(user=None):
    """The Locale to send a code to `user` in, for the current request (None: let Verify choose):
    the person's chosen language when Verify speaks it, else the browser's, else the default."""
    default = default_locale(current_app.config.get("VERIFY_DEFAULT_LOCALE"))
    chosen = getattr(user, "locale", None)
    if not has_request_context():
        return match_locale([(chosen, 1)], default) if chosen else default
    browser = match_locale(accepted_languages())
    chosen = match_locale([(chosen or chosen_language() or "", 1)])
    if chosen is None:
        return browser or default
    if browser is not None and browser.split("-")[0] == chosen.split("-")[0]:
        return browser  # the browser's own variant of the chosen language (en-GB, pt-BR)
    return chosen


# -- the app's own languages ----------------------------------------------------------------------

SOURCE_LANGUAGE = "en"  # the language the app is written in: never needs a catalog
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
CATALOG = Path("LC_MESSAGES", "messages.po")


@dataclass(frozen=True)
class Language:
    """One language the app speaks: its tag as HTML and cookies write it (`pt-BR`), Babel's
    Locale, its name in itself ("Español") and the direction of its script."""

    tag: str
    locale: Locale
    name: str
    dir: str


@functools.cache
def language(tag):
    """The Language for a tag (`es`, `pt-BR`, `pt_BR`); ValueError for a tag Babel doesn't know."""
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (ValueError, TypeError) as error:
        raise ValueError(f"unknown language {tag!r}") from error
    name = locale.get_display_name(locale) or tag
    return Language(
        tag=str(locale).replace("_", "-"),
        locale=locale,
        name=name[:1].upper() + name[1:],
        dir="rtl" if locale.character_order == "right-to-left" else "ltr",
    )


def shipped_languages(translations=TRANSLATIONS):
    """English, then every language with a catalog under app/translations, by tag."""
    found = sorted(path.parent.parent.name for path in Path(translations).glob(f"*/{CATALOG}"))
    return (SOURCE_LANGUAGE, *(language(tag).tag for tag in found if language(tag).tag != SOURCE_LANGUAGE))


def offered_languages(setting, translations=TRANSLATIONS):
    """LANGUAGES as a tuple of tags, English first: every shipped language when it is empty;
    SystemExit naming the variable when it lists one without a catalog."""
    shipped = shipped_languages(translations)
    items = setting.split(",") if isinstance(setting, str) else setting or ()
    wanted = [str(item).strip() for item in items if str(item).strip()]
    if not wanted:
        return shipped
    by_lower_case = {tag.lower(): tag for tag in shipped}
    unknown = [tag for tag in wanted if tag.replace("_", "-").lower() not in by_lower_case]
    if unknown:
        raise SystemExit(
            f"LANGUAGES must list languages the app has catalogs for ({', '.join(shipped)}), "
            f"comma separated, not {', '.join(map(repr, unknown))}."
        )
    chosen = dict.fromkeys(by_lower_case[tag.replace("_", "-").lower()] for tag in wanted)
    return (SOURCE_LANGUAGE, *(tag for tag in chosen if tag != SOURCE_LANGUAGE))


def complete_languages(translations=TRANSLATIONS):
    """English, and each language whose catalog translates every one of its words (none left
    empty or fuzzy): the ones Accept-Language may pick."""
    return (SOURCE_LANGUAGE, *(tag for tag in shipped_languages(translations)[1:]
                               if _translates_everything(Path(translations, tag.replace("-", "_"), CATALOG))))


def _translates_everything(po_file):
    return _po_translates_everything(str(po_file), po_file.stat().st_mtime_ns)


@functools.cache  # read once per process (and again when the file changes)
def _po_translates_everything(po_file, _mtime):
    from babel.messages.pofile import read_po

    with open(po_file, "rb") as file:
        catalog = read_po(file)
    return all(message.string and not message.fuzzy for message in catalog if message.id)


def _offered():
    """The offered tags as lower-case tag -> tag, for matching (built once per LANGUAGES value)."""
    return _lower_case_table(current_app.config["LANGUAGES"])


def _negotiable():
    """The offered languages that Accept-Language alone may pick (see complete_languages)."""
    return _lower_case_table(current_app.extensions["negotiable_languages"])


@functools.cache
def _lower_case_table(tags):
    return {tag.lower(): tag for tag in tags}


def offered(tag):
    """`tag` as the app writes it when it is one of the offered languages, else None."""
    if not isinstance(tag, str) or len(tag) > 16:
        return None
    return _offered().get(tag.replace("_", "-").lower())


def chosen_language(account=True):
    """The language chosen in the menu: the one saved on the account of the person logged in
    (when `account`), else the browser's cookie; None when no choice was made. Reading the
    account costs no statement: the user row comes with the session."""
    if account and session and session.get("_user_id") and current_user.is_authenticated:
        saved = offered(current_user.locale)
        if saved:
            return saved
    cookie = request.cookies.get(current_app.config["LOCALE_COOKIE"])
    return offered(cookie) if cookie else None


def page_state():
    """The `g` of the app context in use, None outside one. A page asks for its language and its
    catalog a few dozen times (each word it shows): Flask's context variable, read here directly,
    answers in a tenth of the time the `g` proxy takes."""
    context = _cv_app.get(None)
    return None if context is None else context.g


def ui_language():
    """The Language of this request's pages (decided once per request); English outside one."""
    try:
        return page_state().ui_language
    except AttributeError:  # not decided yet, or no app context (None)
        pass
    if not has_request_context():
        return language(SOURCE_LANGUAGE)
    tag = chosen_language() or match_locale(accepted_languages(), SOURCE_LANGUAGE, among=_negotiable())
    g.ui_language = language(tag)
    return g.ui_language


def pin_visitor_language():
    """For error pages, which may not read the session or the user (app/errors.py): the page's
    language from the cookie and the browser alone, unless this request already decided it."""
    if "ui_language" not in g:
        tag = chosen_language(account=False) or match_locale(
            accepted_languages(), SOURCE_LANGUAGE, among=_negotiable())
        g.ui_language = language(tag)
    return g.ui_language


def babel_locale():
    """Flask-Babel's locale selector: the Locale of `ui_language`."""
    return ui_language().locale
