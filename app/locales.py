"""The language a code is sent in: the person's browser language, if Twilio Verify speaks it.

VERIFY_LOCALES is the table "Verify Default template" of Twilio's page "Verify supported
languages" (https://www.twilio.com/docs/verify/supported-languages): the `Locale` values Verify
accepts for SMS and voice with its default template. Verify answers 404 for any other value.
"""
from flask import current_app, has_request_context, request
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
    entries = header.split(",", ACCEPT_LANGUAGE_ENTRIES)[:ACCEPT_LANGUAGE_ENTRIES]
    return parse_accept_header(",".join(entries), LanguageAccept)


def match_locale(accepted, default=None):
    """The Verify locale for a browser's languages, `accepted` as (tag, quality) pairs in order of
    preference: the first language that matches exactly (`pt-BR`) or by its language alone
    (`es-MX` -> `es`), else `default`."""
    for tag, quality in accepted:
        if quality <= 0 or tag == "*":
            continue
        tag = tag.replace("_", "-").lower()
        if tag in _BY_LOWER_CASE:
            return _BY_LOWER_CASE[tag]
        language = tag.split("-")[0]
        language = SAME_LANGUAGE.get(language, language)
        if language in _BY_LOWER_CASE:
            return _BY_LOWER_CASE[language]
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


def request_locale():
    """The Locale to send a code in for the current request (None: let Verify choose)."""
    default = default_locale(current_app.config.get("VERIFY_DEFAULT_LOCALE"))
    if not has_request_context():
        return default
    return match_locale(accepted_languages(), default)
