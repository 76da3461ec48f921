"""app/form_html.py writes controls and labels as WTForms does, for every field of every form."""
import inspect

import pytest
from werkzeug.datastructures import MultiDict

from app import form_html
from app.auth import forms as auth_forms
from app.forms import AppForm
from app.methods.phone import forms as phone_forms
from app.methods.totp import forms as totp_forms
from app.profile import forms as profile_forms

FORMS = sorted(
    {cls for module in (auth_forms, profile_forms, phone_forms, totp_forms) for _, cls in inspect.getmembers(module, inspect.isclass)
     if issubclass(cls, AppForm) and cls is not AppForm},
    key=lambda cls: cls.__name__,
)
TYPED = MultiDict({"username": 'al"ice<&>', "phone": "07400 '123'", "code": "12 34", "country": "GB",
                   "remember_me": "y", "remember_device": "y", "next": "/profile?x=\"1\"&y=<2>", "password": "p\"w"})
CALLS = [
    {},
    {"class_": "form-control"},
    {"class_": "form-control is-invalid", "aria_describedby": "f-hint f-error", "aria-invalid": "true"},
    {"class": "form-check-input", "autofocus": False, "data_x": 'a"b'},
    {"required": False, "value": "<given>"},
]


def make(cls, formdata):
    args = ("alice",) if "expected_username" in inspect.signature(cls.__init__).parameters else ()
    form = cls(*args, formdata=formdata)
    for field in form:
        if field.type == "RadioField" and not field.choices:  # choices come with the page
            field.choices = [("phone:sms", 'Text "message" <to> 56'), ("recovery", "Recovery code")]
            field.data = "recovery"
    return form


@pytest.mark.parametrize("cls", FORMS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("formdata", [None, TYPED], ids=["empty", "typed"])
def test_controls_and_labels_match_wtforms(app, cls, formdata):
    with app.test_request_context():
        form = make(cls, formdata)
        assert list(form), cls
        for field in form:
            for control in (field if field.type == "RadioField" else [field]):
                for call in CALLS:
                    assert form_html.control(control, **call) == str(control(**call)), (control.name, call)
            assert form_html.label(field, class_="form-label") == str(field.label(class_="form-label"))


def test_every_kind_of_control_is_written_here(app):
    """The forms use no widget that falls back to WTForms (so none is slow without a test saying so)."""
    with app.test_request_context():
        # A choice of one is written as a fieldset of its options (form_html.radio_row).
        kinds = {type(control.widget) for cls in FORMS for field in make(cls, None)
                 for control in (field if field.type == "RadioField" else [field])}
    assert kinds <= set(form_html.INPUTS) | {form_html.widgets.Select}, kinds


def test_hidden_fields_match_flask_wtf(app):
    with app.test_request_context():
        form = auth_forms.LoginForm(formdata=TYPED)
        assert form_html.hidden_fields(form) == form.hidden_tag()


def test_field_attributes_tie_hint_and_error_to_the_control(app):
    with app.test_request_context():
        form = auth_forms.RegistrationForm(formdata=MultiDict({"username": "a"}))
        form.validate()
        assert form_html.field_attributes(form.username, failed=True) == {
            "class": "form-control is-invalid",
            "aria-describedby": "username-hint username-error",
            "aria-invalid": "true",
            "autofocus": False,
        }
        assert form_html.field_attributes(auth_forms.LoginForm().remember_me) == {
            "class": "form-check-input", "aria-describedby": "remember_me-hint"}


def test_field_rows_give_label_hint_error_then_control(app):
    import re

    with app.test_request_context():
        form = auth_forms.RegistrationForm(formdata=MultiDict({"username": "a<b"}))
        form.validate()
        html = str(form_html.fields(form))
        row = html.split('<div class="mb-3">')[1]
        order = [row.index(part) for part in ('<label class="form-label" for="username">', 'id="username-hint"',
                                              'id="username-error"', '<input aria-describedby="username-hint username-error"')]
        assert order == sorted(order), row
        assert "autofocus" not in html and "aria-invalid" in row
        assert re.search(r'id="username-error"[^>]*>[^<]*\S', row), "the error's words are in the row"
        assert "<b" not in html.replace("<button", "")  # what was typed is escaped
        assert [name for name in re.findall(r'<label[^>]* for="([^"]+)"', html)] == ["username", "password", "password2", "email"]

        login = auth_forms.LoginForm()
        checkbox = str(form_html.field_row(login.remember_me))
        assert checkbox.startswith('<div class="form-check mb-3">')
        assert checkbox.index("<input") < checkbox.index("<label") < checkbox.index('id="remember_me-hint"')
        assert 'name="next"' not in str(form_html.fields(login)), "hidden fields are written apart"


def test_problems_point_at_their_fields_and_form_errors_at_the_first(app):
    with app.test_request_context():
        form = auth_forms.LoginForm(formdata=MultiDict({"username": "alice"}))
        form.validate()
        form.form_errors.append("Invalid username or password.")
        assert form_html.problems(form, "Too many attempts.") == [
            ("Enter your password.", "password"),
            ("Invalid username or password.", "username"),
            ("Too many attempts.", None),
        ]
        assert form_html.problems(None, None) == []


def test_asset_urls_are_the_ones_url_for_builds_for_each_mount_point(app):
    from flask import url_for

    from app.assets import asset_url, version

    hashed = version(app.static_folder, "app.css")
    for root in ("", "/sms2fa"):
        with app.test_request_context("/auth/login", base_url=f"http://localhost{root}"):
            built = url_for("static", filename="app.css", v=hashed)
            assert asset_url("static", "app.css") == built == f"{root}/static/app.css?v={hashed}"
