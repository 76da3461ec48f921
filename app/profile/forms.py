from flask_login import current_user
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

from app.emails import EmailAddressField
from app.forms import AppForm, new_password_field, repeat_password_field


class ConfirmDisableForm(AppForm):
    submit = SubmitField("Disable 2FA")


class RemoveMethodForm(AppForm):
    submit = SubmitField("Remove")


class RegenerateCodesForm(AppForm):
    submit = SubmitField("Create new recovery codes")


class SavedCodesForm(AppForm):
    submit = SubmitField("I have saved my recovery codes")


class PasswordChangeForm(AppForm):
    password = new_password_field("New password", required="Enter a new password.",
                                  username=lambda form: current_user.username)
    password2 = repeat_password_field()
    submit = SubmitField("Change password")


class DeleteAccountForm(AppForm):
    username = StringField(
        "Type your username to confirm",
        validators=[InputRequired("Type your username to confirm.")],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    submit = SubmitField("Delete my account")

    def __init__(self, expected_username, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected_username = expected_username

    def validate_username(self, field):
        if field.data.strip() != self.expected_username:
            raise ValidationError("That is not your username.")


class EmailForm(AppForm):
    email = EmailAddressField(required="Enter your email address.", description=(
        "For resetting a forgotten password and for security notices. We'll send a link to confirm it."))
    submit = SubmitField("Send confirmation link")


class RemoveEmailForm(AppForm):
    submit = SubmitField("Remove email address")
