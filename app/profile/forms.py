from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

from app.emails import EmailAddressField
from app.forms import AppForm, new_password_field, repeat_password_field
from app.phones import InvalidPhone, country_choices, example_mobile, parse_phone


class PhoneForm(AppForm):
    country = SelectField("Country")
    phone = StringField(
        "Phone number",
        validators=[InputRequired("Enter your phone number."), Length(max=32, message="A phone number is at most 32 characters.")],
        render_kw={"autocomplete": "tel-national", "inputmode": "tel"},
        description="Your mobile number, as you dial it in its country, or starting with + and the country code.",
    )
    submit = SubmitField("Send code")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()
        self.e164 = None

    def describe_for(self, country):
        """The hint with an example number of the chosen country."""
        example = example_mobile(country)
        if example:
            self.phone.description = (f"Your mobile number as you dial it in its country, like {example}, "
                                      "or starting with + and the country code.")

    def validate_phone(self, field):
        try:
            self.e164 = parse_phone(field.data, self.country.data)
        except InvalidPhone as error:
            raise ValidationError(str(error)) from None


class ConfirmDisableForm(AppForm):
    submit = SubmitField("Disable 2FA")


class RemoveMethodForm(AppForm):
    submit = SubmitField("Remove")


class RegenerateCodesForm(AppForm):
    submit = SubmitField("Create new recovery codes")


class SavedCodesForm(AppForm):
    submit = SubmitField("I have saved my recovery codes")


class PasswordChangeForm(AppForm):
    password = new_password_field("New password", required="Enter a new password.")
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
