from wtforms import BooleanField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, Regexp, ValidationError

from app.forms import AppForm, CodeField, new_password_field, repeat_password_field
from app.models import User


class RegistrationForm(AppForm):
    username = StringField(
        "Username",
        validators=[
            InputRequired(),
            Length(min=3, max=32),
            Regexp(r"^[A-Za-z0-9_.-]+$", message="Use letters, digits, dots, dashes and underscores."),
        ],
        render_kw={"autocomplete": "username"},
    )
    password = new_password_field()
    password2 = repeat_password_field()
    submit = SubmitField("Sign up")

    def validate_username(self, field):
        if User.by_username(field.data) is not None:
            raise ValidationError("That username is taken. Please choose another.")


class LoginForm(AppForm):
    username = StringField("Username", validators=[InputRequired(), Length(max=64)], render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[InputRequired(), Length(max=128)], render_kw={"autocomplete": "current-password"})
    remember_me = BooleanField("Remember me")
    next = HiddenField()
    submit = SubmitField("Log in")


class PasswordConfirmForm(AppForm):
    password = PasswordField("Password", validators=[InputRequired(), Length(max=128)], render_kw={"autocomplete": "current-password"})
    submit = SubmitField("Confirm")


class CodeForm(AppForm):
    code = CodeField()
    submit = SubmitField("Verify")


class ActionForm(AppForm):
    """A form with only the CSRF token, for POST buttons (log out, resend, call me)."""


class LoginCodeForm(CodeForm):
    remember_device = BooleanField("Don't ask for a code on this browser for 30 days")


class RecoveryCodeForm(AppForm):
    code = StringField(
        "Recovery code",
        validators=[InputRequired("Enter one of your recovery codes."), Length(max=20)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
        description="Each code works once, like k7f2-9qxm.",
    )
    submit = SubmitField("Log in")
