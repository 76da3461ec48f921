from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Length

from app.forms import AppForm, CodeField
from app.methods.totp import DEFAULT_NAME, rules


class AuthenticatorSetupForm(AppForm):
    name = StringField(
        "Name",
        validators=[InputRequired("Enter a name for this app."), Length(max=64, message="A name is at most 64 characters.")],
        description="So you can tell your apps apart, like 'Phone' or 'Old tablet'.",
        default=DEFAULT_NAME,
        render_kw={"autocomplete": "off"},
    )
    code = CodeField()
    submit = SubmitField("Set up")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.code.length = rules.DIGITS
        self.code.validators = [InputRequired("Enter the code your app shows.")]
        self.code.render_kw = {**self.code.render_kw, "autofocus": False}
