from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

from app.forms import AppForm
from app.i18n import _, lazy_gettext
from app.phones import InvalidPhone, country_choices, example_mobile, parse_phone


class PhoneForm(AppForm):
    country = SelectField(lazy_gettext("Country"))
    phone = StringField(
        lazy_gettext("Phone number"),
        validators=[InputRequired(lazy_gettext("Enter your phone number.")),
                    Length(max=32, message=lazy_gettext("A phone number is at most 32 characters."))],
        render_kw={"autocomplete": "tel-national", "inputmode": "tel"},
        description=lazy_gettext("Your mobile number, as you dial it in its country, or starting with + and the country code."),
    )
    submit = SubmitField(lazy_gettext("Send code"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()
        self.e164 = None

    def describe_for(self, country):
        """The hint with an example number of the chosen country."""
        example = example_mobile(country)
        if example:
            self.phone.description = _("Your mobile number as you dial it in its country, like %(example)s, "
                                       "or starting with + and the country code.", example=example)

    def validate_phone(self, field):
        try:
            self.e164 = parse_phone(field.data, self.country.data)
        except InvalidPhone as error:
            raise ValidationError(str(error)) from None
