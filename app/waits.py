"""How long to wait, written the way a person reads it, in the page's language."""
import math

from babel.units import format_unit
from flask import has_request_context

from app.locales import SOURCE_LANGUAGE, language, ui_language


def page_locale():
    """The Babel Locale of this request's page; English outside a request (a command, a test)."""
    return ui_language().locale if has_request_context() else language(SOURCE_LANGUAGE).locale


def wait_in_words(seconds):
    """`45 seconds` up to 90 seconds, then whole minutes (rounded up), then hours past 90 minutes.
    Babel's CLDR units write it (countdown.js writes the same words with Intl.NumberFormat)."""
    seconds = max(1, math.ceil(seconds))
    if seconds <= 90:
        count, unit = seconds, "second"
    elif seconds <= 90 * 60:
        count, unit = math.ceil(seconds / 60), "minute"
    else:
        count, unit = math.ceil(seconds / 3600), "hour"
    return format_unit(count, f"duration-{unit}", length="long", locale=page_locale())
