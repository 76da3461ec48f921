from flask_login import current_user
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

from app.emails import EmailAddressField
from app.forms import AppForm, new_password_field, repeat_password_field
from app.i18n import _, lazy_gettext


class ConfirmDisableForm(AppForm):
    submit = SubmitField(lazy_gettext("Disable 2FA"))


class RemoveMethodForm(AppForm):
    # Translators: the button that removes a way to log in (a phone, an authenticator app, a passkey).
    submit = SubmitField(lazy_gettext("Remove"))


class RegenerateCodesForm(AppForm):
    submit = SubmitField(lazy_gettext("Create new recovery codes"))


class SavedCodesForm(AppForm):
    submit = SubmitField(lazy_gettext("I have saved my recovery codes"))


class PasswordChangeForm(AppForm):
    password = new_password_field(lazy_gettext("New password"), required=lazy_gettext("Enter a new password."),
                                  username=lambda form: current_user.username)
    password2 = repeat_password_field()
    submit = SubmitField(lazy_gettext("Change password"))


class DeleteAccountForm(AppForm):
    username = StringField(
        lazy_gettext("Type your username to confirm"),
        validators=[InputRequired(lazy_gettext("Type your username to confirm."))],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    submit = SubmitField(lazy_gettext("Delete my account"))

    def __init__(self, expected_username, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected_username = expected_username

    def validate_username(self, field):
        if field.data.strip() != self.expected_username:
            raise ValidationError(_("That is not your username."))


class EmailForm(AppForm):
    email = EmailAddressField(required=lazy_gettext("Enter your email address."), description=lazy_gettext(
        "For resetting a forgotten password and for security notices. We'll send a link to confirm it."))
    submit = SubmitField(lazy_gettext("Send confirmation link"))


class RemoveEmailForm(AppForm):
    submit = SubmitField(lazy_gettext("Remove email address"))
