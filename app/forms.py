"""The base form and the fields shared by both blueprints. Each message says what to do, each rule
is a hint first."""
import re

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, ValidationError
from wtforms.validators import EqualTo, InputRequired, Length

from app.expired_forms import FORM_EXPIRED, form_expired
from app.password_rules import password_problem
from app.i18n import _, lazy_gettext, lazy_ngettext, ngettext, wtforms_translations

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_CHARACTERS_MESSAGE = lazy_gettext("Use only printable characters (no tabs, line breaks or control characters).")


class AppForm(FlaskForm):
    """Every form of the app. Text a person typed with a control character in it (a NUL among
    them) is a form error, found before any validator or database query sees the text. Hidden
    fields are left to their own checks (`next` is dropped when unsafe, the CSRF token refused).
    A form whose CSRF token failed (app.expired_forms) never validates: it is shown again."""

    class Meta:
        def get_translations(self, form):
            """WTForms' own words in the page's language, from a catalog loaded once per process
            (Flask-WTF's own would read it from disk on every request)."""
            return wtforms_translations()

    def validate(self, extra_validators=None):
        if form_expired():
            if FORM_EXPIRED not in self.form_errors:
                self.form_errors.append(FORM_EXPIRED)
            return False
        unprintable = [
            field for field in self
            if isinstance(field, StringField) and not isinstance(field, HiddenField)
            and isinstance(field.data, str) and CONTROL_CHARACTERS.search(field.data)
        ]
        for field in unprintable:
            field.errors = [CONTROL_CHARACTERS_MESSAGE]
        return not unprintable and super().validate(extra_validators)


PASSWORD_MIN, PASSWORD_MAX = 8, 128
PASSWORD_HINT = lazy_ngettext("At least %(num)d character. Avoid common passwords and your username.",
                              "At least %(num)d characters. Avoid common passwords and your username.", PASSWORD_MIN)


class NotEasilyGuessed:
    """Refuses a new password that is common, repeated or sequential characters, or holds the
    username, saying why (app.password_rules). `username(form)` gives the username, when there is
    one: the one typed at sign-up, the person's own at a change or a reset. Silent when the length
    was refused already: one message at a time."""

    def __init__(self, username=None):
        self.username = username

    def __call__(self, form, field):
        if field.errors or not field.data:
            return
        problem = password_problem(field.data, self.username(form) if self.username else None)
        if problem:
            raise ValidationError(_(problem))


def new_password_field(label=lazy_gettext("Password"), required=lazy_gettext("Enter a password."), username=None):
    """A new password: 8 to 128 characters, not easily guessed (`username`: see NotEasilyGuessed)."""
    return PasswordField(
        label,
        validators=[
            InputRequired(required),
            # WTForms applies `% {min, max, length}` to these: the number is in them already.
            Length(min=PASSWORD_MIN, message=lazy_ngettext("Your password must be at least %(num)d character.",
                                                           "Your password must be at least %(num)d characters.",
                                                           PASSWORD_MIN)),
            Length(max=PASSWORD_MAX, message=lazy_ngettext("Your password must be %(num)d character or fewer.",
                                                           "Your password must be %(num)d characters or fewer.",
                                                           PASSWORD_MAX)),
            NotEasilyGuessed(username),
        ],
        description=PASSWORD_HINT,
        render_kw={"autocomplete": "new-password"},
    )


def repeat_password_field():
    return PasswordField(
        lazy_gettext("Repeat password"),
        validators=[InputRequired(lazy_gettext("Type the password again.")),
                    EqualTo("password", message=lazy_gettext("The passwords don't match."))],
        render_kw={"autocomplete": "new-password"},
    )


class CodeField(StringField):
    """The one-time code: digits only, spaces and dashes ignored, length checked before Twilio."""

    def __init__(self, label=lazy_gettext("Verification code"), **kwargs):
        render_kw = {
            "inputmode": "numeric",
            "autocomplete": "one-time-code",
            "pattern": r"[0-9 \-]*",
            "maxlength": 12,
            "autofocus": True,
        }
        required = InputRequired(lazy_gettext("Enter the code we sent you."))
        super().__init__(label, validators=[required], render_kw=render_kw, **kwargs)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.data = "".join(ch for ch in (self.data or "") if ch not in " -")

    length = None  # digits expected: the page's challenge says (an app: 6), else VERIFY_CODE_LENGTH

    def pre_validate(self, form):
        length = self.length or current_app.config["VERIFY_CODE_LENGTH"]
        if self.data and not (self.data.isascii() and self.data.isdigit() and len(self.data) == length):
            raise ValidationError(ngettext("The code is %(num)d digit.", "The code is %(num)d digits.", length))
