"""The forms a passkey's answer comes back in: the browser's JSON in one hidden field, filled by
static/webauthn.js; what is not a WebAuthn answer is a form error (400) before anything is checked."""
from markupsafe import Markup
from wtforms import HiddenField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, StopValidation
from wtforms.widgets import HiddenInput

from app.forms import AppForm
from app.i18n import N_, _, lazy_gettext
from app.methods.webauthn import ceremony

NO_ANSWER = N_("Your browser sent no passkey. Press the button again, or use another way.")
NOT_AN_ANSWER = N_("Your browser's answer was not a passkey's. Please try again.")
TOO_LONG = N_("Your browser's answer was too long to be a passkey's. Please try again.")


class PasskeyInput(HiddenInput):
    """The hidden input the script fills; it never shows a value back (an answer works once), and
    has no id: the field's id is the button's, so the error summary's link goes to the button."""

    def __call__(self, field, **kwargs):
        return Markup(f'<input type="hidden" name="{field.name}" value="" data-passkey-answer>')


class PasskeyField(HiddenField):
    widget = PasskeyInput()

    def __init__(self, ceremony_type="webauthn.get", **kwargs):
        kwargs.setdefault("id", "passkey-button")
        super().__init__(lazy_gettext("Passkey"), **kwargs)
        self.ceremony_type = ceremony_type
        self.answer = None

    def pre_validate(self, form):
        if not self.data:
            raise StopValidation(_(NO_ANSWER))
        try:
            self.answer = ceremony.parse_answer(self.data, self.ceremony_type)
        except ceremony.Malformed as problem:
            refusal = TOO_LONG if str(problem) == "too long" else NOT_AN_ANSWER
            raise StopValidation(_(refusal)) from None


def with_passkey_answer(form_class):
    """`form_class` (a code form) with its code field answered by a passkey instead."""
    return type(f"Passkey{form_class.__name__}", (form_class,), {"code": PasskeyField(name="credential")})


class PasskeyForm(AppForm):
    """Signing in, or confirming it's you, with a passkey alone; `next` is where to go after."""

    credential = PasskeyField(name="credential")
    next = HiddenField()


class AddPasskeyForm(AppForm):
    credential = PasskeyField("webauthn.create", name="credential")


class RenamePasskeyForm(AppForm):
    name = StringField(
        # Translators: the label of the name a person gives a passkey, to tell it apart.
        lazy_gettext("Name"),
        validators=[InputRequired(lazy_gettext("Enter a name for this passkey.")),
                    Length(max=64, message=lazy_gettext("A name is at most 64 characters."))],
        description=lazy_gettext(
            "So you can tell your passkeys and security keys apart, like 'Work laptop' or 'Blue key'."),
        render_kw={"autocomplete": "off"},
    )
    submit = SubmitField(lazy_gettext("Save"))
