from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Length

from app.forms import AppForm, CodeField
from app.i18n import _, lazy_gettext
from app.methods.totp import DEFAULT_NAME, rules


class AuthenticatorSetupForm(AppForm):
    name = StringField(
        # Translators: the label of the name a person gives an authenticator app, to tell it apart.
        lazy_gettext("Name"),
        validators=[InputRequired(lazy_gettext("Enter a name for this app.")),
                    Length(max=64, message=lazy_gettext("A name is at most 64 characters."))],
        description=lazy_gettext("So you can tell your apps apart, like 'Phone' or 'Old tablet'."),
        default=lambda: _(DEFAULT_NAME),
        render_kw={"autocomplete": "off"},
    )
    code = CodeField()
    # Translators: the button that finishes setting up an authenticator app.
    submit = SubmitField(lazy_gettext("Set up"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.code.length = rules.DIGITS
        self.code.validators = [InputRequired(_("Enter the code your app shows."))]
        self.code.render_kw = {**self.code.render_kw, "autofocus": False}
