from flask import current_app
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, Regexp, ValidationError

from app.emails import EmailAddressField
from app.forms import AppForm, CodeField, new_password_field, repeat_password_field
from app.i18n import _, lazy_gettext, ngettext
from app.models import User


class RegistrationForm(AppForm):
    username = StringField(
        lazy_gettext("Username"),
        validators=[
            InputRequired(lazy_gettext("Enter a username.")),
            Length(min=3, max=32, message=lazy_gettext("Your username must be 3 to 32 characters.")),
            Regexp(r"^[A-Za-z0-9_.-]+$", message=lazy_gettext(
                "Your username can only have letters, digits, dots (.), dashes (-) and underscores (_).")),
        ],
        description=lazy_gettext("3 to 32 characters: letters, digits, dots (.), dashes (-) and underscores (_)."),
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = new_password_field(username=lambda form: form.username.data)
    password2 = repeat_password_field()
    email = EmailAddressField(description=lazy_gettext(
        "Optional. For resetting a forgotten password and for security notices. We'll send a link to confirm it."))
    submit = SubmitField(lazy_gettext("Sign up"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not current_app.extensions.get("mail_enabled"):
            del self.email  # no mail, no address: it could never be confirmed

    def validate_username(self, field):
        if User.by_username(field.data) is not None:
            raise ValidationError(_("That username is taken. Please choose another."))


def current_password_field():
    return PasswordField(
        lazy_gettext("Password"),
        validators=[InputRequired(lazy_gettext("Enter your password.")),
                    Length(max=128, message=lazy_gettext("A password is at most 128 characters."))],
        render_kw={"autocomplete": "current-password"},
    )


class LoginForm(AppForm):
    username = StringField(
        lazy_gettext("Username"),
        validators=[InputRequired(lazy_gettext("Enter your username.")),
                    Length(max=64, message=lazy_gettext("A username is at most 32 characters."))],
        # "webauthn": the browser may offer the site's passkeys here (static/webauthn.js).
        render_kw={"autocomplete": "username webauthn", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = current_password_field()
    remember_me = BooleanField(lazy_gettext("Remember me"))
    next = HiddenField()
    submit = SubmitField(lazy_gettext("Log in"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        days = current_app.config["REMEMBER_LIFETIME"].days
        self.remember_me.description = ngettext(
            "Keeps you logged in on this browser for %(num)d day, even after you close it. "
            "Don't tick this on a shared computer.",
            "Keeps you logged in on this browser for %(num)d days, even after you close it. "
            "Don't tick this on a shared computer.", days)


class PasswordConfirmForm(AppForm):
    password = current_password_field()
    submit = SubmitField(lazy_gettext("Confirm"))


class CodeForm(AppForm):
    code = CodeField()
    submit = SubmitField(lazy_gettext("Verify"))


class ActionForm(AppForm):
    """A form with only the CSRF token, for POST buttons (log out, resend, call me)."""


class LoginCodeForm(CodeForm):
    remember_device = BooleanField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        days = current_app.config["TRUSTED_DEVICE_DAYS"]
        self.remember_device.label.text = ngettext("Don't ask for a code on this browser for %(num)d day",
                                                   "Don't ask for a code on this browser for %(num)d days", days)
        self.remember_device.description = ngettext(
            "For %(num)d day, logging in on this browser asks for your password only. "
            "Other browsers still ask for a code.",
            "For %(num)d days, logging in on this browser asks for your password only. "
            "Other browsers still ask for a code.", days)


class RecoveryCodeForm(AppForm):
    code = StringField(
        lazy_gettext("Recovery code"),
        validators=[InputRequired(lazy_gettext("Enter one of your recovery codes.")), Length(max=20)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
        description=lazy_gettext("Each code works once, like k7f2-9qxm."),
    )
    submit = SubmitField(lazy_gettext("Log in"))


RECOVERY_WAY = "recovery"


class AnotherWayForm(AppForm):
    """"Use another way": each way of the person's methods in words, then a recovery code."""

    way = RadioField(lazy_gettext("How do you want to confirm it's you?"),
                     validators=[InputRequired(lazy_gettext("Choose a way to confirm it's you."))])
    submit = SubmitField(lazy_gettext("Continue"))

    @classmethod
    def of(cls, ways):
        """The form for this step: the way in use first (preselected), the others, a recovery code."""
        form = cls()
        form.way.choices = [(way.key, way.words) for way in ways] + [(RECOVERY_WAY, _("Recovery code"))]
        if not form.is_submitted():
            form.way.data = ways[0].key
        return form


class ForgotPasswordForm(AppForm):
    username = StringField(
        lazy_gettext("Username or email address"),
        validators=[InputRequired(lazy_gettext("Enter your username or email address.")),
                    Length(max=254, message=lazy_gettext(
                        "Enter your username or email address (at most 254 characters)."))],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    submit = SubmitField(lazy_gettext("Send me a link"))


class ResetPasswordForm(AppForm):
    token = HiddenField()
    password = new_password_field(lazy_gettext("New password"), required=lazy_gettext("Enter a new password."))
    password2 = repeat_password_field()
    submit = SubmitField(lazy_gettext("Set my new password"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.password2.label.text = _("Repeat new password")


class ConfirmEmailForm(AppForm):
    token = HiddenField()
    submit = SubmitField(lazy_gettext("Confirm my email address"))
