from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

from app.phones import InvalidPhone, country_choices, parse_phone


class PhoneForm(FlaskForm):
    country = SelectField("Country")
    phone = StringField(
        "Phone number",
        validators=[InputRequired(), Length(max=32)],
        render_kw={"autocomplete": "tel-national", "inputmode": "tel"},
        description="Your mobile number, national or international (+...).",
    )
    submit = SubmitField("Send code")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()
        self.e164 = None

    def validate_phone(self, field):
        try:
            self.e164 = parse_phone(field.data, self.country.data)
        except InvalidPhone as error:
            raise ValidationError(str(error)) from None


class ConfirmDisableForm(FlaskForm):
    submit = SubmitField("Disable 2FA")
