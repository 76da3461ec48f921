"""Form controls, labels and field rows written straight to HTML.

WTForms' widgets build every attribute through MarkupSafe's string formatting, which was a third
of the login page's time. `control` and `label` produce the same HTML (tests/test_form_html.py
compares them with WTForms' own, for every field of every form) with plain joins; a widget they
don't know is rendered by WTForms. `fields` writes each visible field's row (label, hint, error,
control) here too rather than in a Jinja macro: a macro call costs more than the row's HTML.
"""
from markupsafe import Markup, escape
from wtforms import widgets
from wtforms.widgets.core import clean_key

NOT_SHOWN = ("HiddenField", "CSRFTokenField", "SubmitField")  # a hidden input or the form's button
INPUTS = (widgets.TextInput, widgets.PasswordInput, widgets.HiddenInput, widgets.CheckboxInput,
          widgets.RadioInput, widgets.SubmitInput)


def attributes(params):
    """WTForms' html_params: sorted names, True as a bare name, False left out, values escaped."""
    parts = []
    for name in sorted(params):
        value = params[name]
        if value is True:
            parts.append(clean_key(name))
        elif value is not False:
            parts.append(f'{clean_key(name)}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return " ".join(parts)


def _params(field, kwargs):
    """What Meta.render_field hands the widget: the field's render_kw under the call's own."""
    params = {clean_key(name): value for name, value in kwargs.items()}
    if field.render_kw:
        params = {**{clean_key(name): value for name, value in field.render_kw.items()}, **params}
    params.setdefault("id", field.id)
    return params


def _validation_flags(field, widget, params):
    for name, value in vars(field.flags).items():
        if name in widget.validation_attrs and name not in params:
            params[name] = value() if callable(value) else value


def control(field, **kwargs):
    """The field's control, e.g. `<input id="username" name="username" type="text" value="">`."""
    widget = field.widget
    if type(widget) in INPUTS:
        return _input(field, widget, _params(field, kwargs))
    if type(widget) is widgets.Select and not widget.multiple and not field.has_groups():
        return _select(field, widget, _params(field, kwargs))
    return field(**kwargs)


def _input(field, widget, params):
    if isinstance(widget, widgets.PasswordInput) and widget.hide_value:
        params["value"] = ""
    elif isinstance(widget, (widgets.CheckboxInput, widgets.RadioInput)) and getattr(field, "checked", field.data):
        params.setdefault("checked", True)
    elif isinstance(widget, widgets.SubmitInput):
        params.setdefault("value", field.label.text)
    params.setdefault("type", widget.input_type)
    if "value" not in params:
        params["value"] = field._value()
    _validation_flags(field, widget, params)
    params["name"] = field.name
    return Markup(f"<input {attributes(params)}>")


def _select(field, widget, params):
    _validation_flags(field, widget, params)
    params["name"] = field.name
    html = [f"<select {attributes(params)}>"]
    for choice in field._iter_choices_normalized():
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        option = {"value": value, **(choice.render_kw or {})}
        if choice.selected:
            option["selected"] = True
        html.append(f"<option {attributes(option)}>{escape(choice.label or choice.value)}</option>")
    html.append("</select>")
    return Markup("".join(html))


def label(field, **kwargs):
    """The field's label, e.g. `<label class="form-label" for="username">Username</label>`."""
    params = {clean_key(name): value for name, value in kwargs.items()}
    if "for" not in params:
        params["for"] = field.label.field_id
    return Markup(f"<label {attributes(params)}>{escape(field.label.text)}</label>")


def field_attributes(f, failed=False):
    """The control's attributes in a field row: its Bootstrap class, and its hint and error tied
    to it for screen readers. After a failed submit the error summary takes the focus, so no
    field is autofocused then."""
    classes = {"BooleanField": "form-check-input", "SelectField": "form-select"}.get(f.type, "form-control")
    params = {"class": classes + (" is-invalid" if f.errors else "")}
    described = ([f"{f.id}-hint"] if f.description else []) + ([f"{f.id}-error"] if f.errors else [])
    if described:
        params["aria-describedby"] = " ".join(described)
    if f.errors:
        params["aria-invalid"] = "true"
    if failed:
        params["autofocus"] = False
    return params


def radio_row(f):
    """A choice of one: a fieldset whose legend is the question, then hint, error and the options."""
    described = ([f"{f.id}-hint"] if f.description else []) + ([f"{f.id}-error"] if f.errors else [])
    aria = f' aria-describedby="{" ".join(described)}"' if described else ""
    hint = f'<div id="{f.id}-hint" class="form-text mt-0 mb-1">{escape(f.description)}</div>\n' if f.description else ""
    error = (f'<div id="{f.id}-error" class="invalid-feedback d-block mt-0 mb-1">'
             f'{" ".join(str(escape(message)) for message in f.errors)}</div>\n') if f.errors else ""
    options = "\n".join(
        f'<div class="form-check">{control(option, class_="form-check-input")} '
        f'{label(option, class_="form-check-label")}</div>' for option in f)
    return Markup(f'<fieldset class="mb-3" id="{f.id}"{aria}>\n<legend class="form-label fs-6">{escape(f.label.text)}</legend>\n'
                  f'{hint}{error}{options}\n</fieldset>')


def field_row(f, failed=False):
    """One field in GOV.UK's order (label, hint, error, control); a checkbox before its label."""
    if f.type == "RadioField":
        return radio_row(f)
    control_html = control(f, **field_attributes(f, failed))
    if f.type == "BooleanField":
        hint = f'<div id="{f.id}-hint" class="form-text mt-0">{escape(f.description)}</div>' if f.description else ""
        return Markup(f'<div class="form-check mb-3">\n{control_html} {label(f, class_="form-check-label")}\n'
                      f'{hint}</div>')
    hint = f'<div id="{f.id}-hint" class="form-text mt-0 mb-1">{escape(f.description)}</div>\n' if f.description else ""
    error = (f'<div id="{f.id}-error" class="invalid-feedback d-block mt-0 mb-1">'
             f'{" ".join(str(escape(message)) for message in f.errors)}</div>\n') if f.errors else ""
    return Markup(f'<div class="mb-3">\n{label(f, class_="form-label")}\n{hint}{error}{control_html}\n</div>')


def fields(form):
    """The rows of the form's visible fields; after a failed submit none is autofocused (the error
    summary takes the focus)."""
    failed = bool(form.errors)
    return Markup("\n".join(field_row(field, failed) for field in form if field.type not in NOT_SHOWN))


def problems(form=None, page_error=None):
    """What to fix after a failed submit, for the error summary: (message, id of the field it is
    about). Form-wide errors (a wrong username or password) point at the first field, a
    `page_error` at none."""
    found = []
    if form:
        visible = [field for field in form if field.type not in NOT_SHOWN]
        found = [(message, field.id) for field in visible for message in field.errors]
        first = visible[0].id if visible else None
        found += [(message, first) for message in form.form_errors]
    if page_error:
        found.append((page_error, None))
    return found


def hidden_fields(form):
    """Flask-WTF's hidden_tag: the form's hidden inputs (the CSRF token among them)."""
    return Markup("\n".join(control(field) for field in form if isinstance(field.widget, widgets.HiddenInput)))


def init_app(app):
    app.jinja_env.globals.update(control=control, label=label, fields=fields, hidden_fields=hidden_fields,
                                  field_row=field_row, form_problems=problems)
