"""Phone number parsing for enrolment: countries, validation, and the types we accept."""
import threading
from functools import cache

import phonenumbers
from flask import current_app
from phonenumbers import PhoneNumberType

from app.i18n import N_, _
from app.locales import accepted_languages, chosen_language, language, ui_language

# Types that can be a personal phone able to receive a text.
SMS_CAPABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PERSONAL_NUMBER}
REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: N_("Premium-rate numbers can't be used for 2FA."),
    PhoneNumberType.SHARED_COST: N_("Shared-cost numbers can't be used for 2FA."),
    PhoneNumberType.TOLL_FREE: N_("Toll-free numbers can't be used for 2FA."),
    PhoneNumberType.VOIP: N_("Internet (VoIP) numbers can't be used for 2FA. Use a mobile number."),
    PhoneNumberType.FIXED_LINE: N_("This looks like a landline, which can't receive texts. Use a mobile number."),
    PhoneNumberType.PAGER: N_("Pager numbers can't be used for 2FA."),
    PhoneNumberType.UAN: N_("Company numbers can't be used for 2FA. Use a mobile number."),
    PhoneNumberType.VOICEMAIL: N_("Voicemail numbers can't be used for 2FA."),
}

NOT_FOR_TEXTS = N_("This number can't receive text messages. Use a mobile number.")


class InvalidPhone(ValueError):
    """The number can't be used; the message says why, in words a person understands (in the
    page's language: it is raised while checking a form)."""


_SORTING = threading.Lock()
_COUNTRIES = {}  # language tag -> its sorted choices, built once per process


def all_countries(tag="en"):
    """(region code, "Country (+code)") for every region phonenumbers knows, named in the language
    `tag` (CLDR's names, through Babel) and sorted by the Unicode Collation Algorithm, the
    order CLDR's root collation gives (Curaçao among the Cs, Åland Islands among the As)."""
    try:
        return _COUNTRIES[tag]
    except KeyError:
        pass
    with _SORTING:
        if tag not in _COUNTRIES:
            _COUNTRIES[tag] = _sorted_countries(tag)
    return _COUNTRIES[tag]


def _sorted_countries(tag):
    import pyuca  # about 10 MB of collation tables while sorting; let go of afterwards

    names = language(tag).locale.territories
    english = language("en").locale.territories
    choices = [
        (region, f"{names.get(region) or english[region]} (+{phonenumbers.country_code_for_region(region)})")
        for region in phonenumbers.SUPPORTED_REGIONS
    ]
    collator = pyuca.Collator()
    return sorted(choices, key=lambda choice: (collator.sort_key(choice[1]), choice[1]))


def country_choices():
    """The countries the phone form offers, in the language of the page."""
    allowed = set(current_app.config["SMS_ALLOWED_COUNTRIES"])
    return [choice for choice in all_countries(ui_language().tag) if not allowed or choice[0] in allowed]


def _region(tag):
    tag = tag.replace("_", "-")
    return tag.split("-")[-1].upper() if "-" in tag else ""


def default_country():
    """The country of the language chosen in the menu when it names one (`pt-BR`), else the first
    country in the browser's Accept-Language that we serve, else the configured one."""
    known = {region for region, _name in country_choices()}
    for language_tag in (chosen_language() or "", *(tag for tag, _quality in accepted_languages())):
        region = _region(language_tag)
        if region in known:
            return region
    configured = current_app.config["DEFAULT_COUNTRY"]
    return configured if configured in known else next(iter(sorted(known)), "US")


def example_mobile(country):
    """A mobile number of `country` as it is dialled there (`07400 123456`), or None."""
    return _example_mobile(country) if country in phonenumbers.SUPPORTED_REGIONS else None


@cache  # keyed by the regions phonenumbers knows only, never by whatever a form sent
def _example_mobile(country):
    example = phonenumbers.example_number_for_type(country, PhoneNumberType.MOBILE)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL) if example else None


def parse_phone(number, country):
    """Returns the number in E.164, or raises InvalidPhone with the reason."""
    try:
        parsed = phonenumbers.parse(number, country)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(_("This doesn't look like a phone number. Check it and try again.")) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(_("This phone number is not valid. Check the country and the number."))
    region = phonenumbers.region_code_for_number(parsed)
    allowed = current_app.config["SMS_ALLOWED_COUNTRIES"]
    if allowed and region not in allowed:
        raise InvalidPhone(_("We can't send codes to numbers in this country."))
    kind = phonenumbers.number_type(parsed)
    if kind not in SMS_CAPABLE:
        raise InvalidPhone(_(REFUSED_TYPES.get(kind, NOT_FOR_TEXTS)))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _parsed(phone):
    if not phone:
        return None
    try:
        return phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return None


def formatted(phone):
    """`+447400123456` -> `+44 7400 123456`: the whole number, grouped, so a typo can be seen."""
    parsed = _parsed(phone)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL) if parsed else phone


def last_digits(phone, count=2):
    """What a code page says of a number already on the account: `ending in 56`."""
    return "".join(ch for ch in phone or "" if ch.isdigit())[-count:]


def country_of(phone):
    """The country (region code) of an E.164 number, or None."""
    parsed = _parsed(phone)
    return phonenumbers.region_code_for_number(parsed) if parsed else None
