"""Fields shared by both blueprints. Each message says what to do, each rule is a hint first."""
from flask import current_app
from wtforms import PasswordField, StringField, ValidationError
from wtforms.validators import EqualTo, InputRequired, Length

PASSWORD_MIN, PASSWORD_MAX = 8, 128
PASSWORD_HINT = f"At least {PASSWORD_MIN} characters."


def new_password_field(label="Password", required="Enter a password."):
    return PasswordField(
        label,
        validators=[
            InputRequired(required),
            Length(min=PASSWORD_MIN, message=f"Your password must be at least {PASSWORD_MIN} characters."),
            Length(max=PASSWORD_MAX, message=f"Your password must be {PASSWORD_MAX} characters or fewer."),
        ],
        description=PASSWORD_HINT,
        render_kw={"autocomplete": "new-password"},
    )


def repeat_password_field():
    return PasswordField(
        "Repeat password",
        validators=[InputRequired("Type the password again."), EqualTo("password", message="The passwords don't match.")],
        render_kw={"autocomplete": "new-password"},
    )


class CodeField(StringField):
    """The one-time code: digits only, spaces and dashes ignored, length checked before Twilio."""

    def __init__(self, label="Verification code", **kwargs):
        render_kw = {
            "inputmode": "numeric",
            "autocomplete": "one-time-code",
            "pattern": r"[0-9 \-]*",
            "maxlength": 12,
            "autofocus": True,
        }
        super().__init__(label, validators=[InputRequired("Enter the code we sent you.")], render_kw=render_kw, **kwargs)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.data = "".join(ch for ch in (self.data or "") if ch not in " -")

    def pre_validate(self, form):
        length = current_app.config["VERIFY_CODE_LENGTH"]
        if self.data and not (self.data.isascii() and self.data.isdigit() and len(self.data) == length):
            raise ValidationError(f"The code is {length} digits.")
