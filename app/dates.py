"""Moments written out for people, in the page's language (or a mail's, app.i18n.in_language):
Babel's CLDR patterns for it, in UTC with "UTC" written after, as the app keeps every time in
UTC (app.js rewrites a page's times in the reader's own zone).

Each language's patterns are parsed once per process; writing a moment applies them.
"""
import functools

from babel import Locale
from babel.dates import parse_pattern

from app.i18n import gettext
from app.locales import SOURCE_LANGUAGE, language, ui_language

# The app is written in British English: "3 Dec 2026, 14:05", a 24-hour clock, day first.
ENGLISH = Locale.parse("en_GB")


@functools.cache
def _patterns(tag):
    """(locale, medium date and short time, long date, short time) of a language."""
    locale = ENGLISH if tag == SOURCE_LANGUAGE else language(tag).locale
    time = locale.time_formats["short"].pattern
    both = locale.datetime_formats["medium"].replace("{0}", time).replace("{1}", locale.date_formats["medium"].pattern)
    return locale, parse_pattern(both), locale.date_formats["long"], locale.time_formats["short"]


def utc_text(moment):
    """`3 Dec 2026, 14:05 UTC` (`3 dic 2026, 14:05 UTC` in Spanish)."""
    locale, both, _, _ = _patterns(ui_language().tag)
    # Translators: a date and time in UTC, e.g. "3 Dec 2026, 14:05 UTC".
    return gettext("%(moment)s UTC", moment=both.apply(moment, locale))


def long_date(moment):
    """`3 December 2026`."""
    locale, _, date, _ = _patterns(ui_language().tag)
    return date.apply(moment, locale)


def short_time(moment):
    """`14:05`."""
    locale, _, _, time = _patterns(ui_language().tag)
    return time.apply(moment, locale)
