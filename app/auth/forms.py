from flask import current_app
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, Regexp, ValidationError

from app.emails import EmailAddressField
from app.forms import AppForm, CodeField, new_password_field, repeat_password_field
from app.models import User


class RegistrationForm(AppForm):
    username = StringField(
        "Username",
        validators=[
            InputRequired("Enter a username."),
            Length(min=3, max=32, message="Your username must be 3 to 32 characters."),
            Regexp(r"^[A-Za-z0-9_.-]+$", message=(
                "Your username can only have letters, digits, dots (.), dashes (-) and underscores (_).")),
        ],
        description="3 to 32 characters: letters, digits, dots (.), dashes (-) and underscores (_).",
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = new_password_field(username=lambda form: form.username.data)
    password2 = repeat_password_field()
    email = EmailAddressField(description=(
        "Optional. For resetting a forgotten password and for security notices. We'll send a link to confirm it."))
    submit = SubmitField("Sign up")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not current_app.extensions.get("mail_enabled"):
            del self.email  # no mail, no address: it could never be confirmed

    def validate_username(self, field):
        if User.by_username(field.data) is not None:
            raise ValidationError("That username is taken. Please choose another.")


def current_password_field():
    return PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=128, message="A password is at most 128 characters.")],
        render_kw={"autocomplete": "current-password"},
    )


class LoginForm(AppForm):
    username = StringField(
        "Username",
        validators=[InputRequired("Enter your username."), Length(max=64, message="A username is at most 32 characters.")],
        # "webauthn": the browser may offer the site's passkeys here (static/webauthn.js).
        render_kw={"autocomplete": "username webauthn", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = current_password_field()
    remember_me = BooleanField("Remember me")
    next = HiddenField()
    submit = SubmitField("Log in")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        days = current_app.config["REMEMBER_LIFETIME"].days
        self.remember_me.description = (
            f"Keeps you logged in on this browser for {days} days, even after you close it. "
            "Don't tick this on a shared computer."
        )


class PasswordConfirmForm(AppForm):
    password = current_password_field()
    submit = SubmitField("Confirm")


class CodeForm(AppForm):
    code = CodeField()
    submit = SubmitField("Verify")


class ActionForm(AppForm):
    """A form with only the CSRF token, for POST buttons (log out, resend, call me)."""


class LoginCodeForm(CodeForm):
    remember_device = BooleanField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        days = current_app.config["TRUSTED_DEVICE_DAYS"]
        self.remember_device.label.text = f"Don't ask for a code on this browser for {days} days"
        self.remember_device.description = (
            f"For {days} days, logging in on this browser asks for your password only. "
            "Other browsers still ask for a code."
        )


class RecoveryCodeForm(AppForm):
    code = StringField(
        "Recovery code",
        validators=[InputRequired("Enter one of your recovery codes."), Length(max=20)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
        description="Each code works once, like k7f2-9qxm.",
    )
    submit = SubmitField("Log in")


RECOVERY_WAY = "recovery"


class AnotherWayForm(AppForm):
    """"Use another way": each way of the person's methods in words, then a recovery code."""

    way = RadioField("How do you want to confirm it's you?", validators=[InputRequired("Choose a way to confirm it's you.")])
    submit = SubmitField("Continue")

    @classmethod
    def of(cls, ways):
        """The form for this step: the way in use first (preselected), the others, a recovery code."""
        form = cls()
        form.way.choices = [(way.key, way.words) for way in ways] + [(RECOVERY_WAY, "Recovery code")]
        if not form.is_submitted():
            form.way.data = ways[0].key
        return form


class ForgotPasswordForm(AppForm):
    username = StringField(
        "Username or email address",
        validators=[InputRequired("Enter your username or email address."),
                    Length(max=254, message="Enter your username or email address (at most 254 characters).")],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    submit = SubmitField("Send me a link")


class ResetPasswordForm(AppForm):
    token = HiddenField()
    password = new_password_field("New password", required="Enter a new password.")
    password2 = repeat_password_field()
    submit = SubmitField("Set my new password")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.password2.label.text = "Repeat new password"


class ConfirmEmailForm(AppForm):
    token = HiddenField()
    submit = SubmitField("Confirm my email address")
