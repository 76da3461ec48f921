"""Each shipped catalog is complete and safe to show (issue "Languages", part 2): nothing left
untranslated or fuzzy, nothing stale (the template is what the code asks for today, and every
catalog is updated from it), and no translation whose placeholders or HTML tags differ from the
English: a missing `%(name)s` would raise at render time, an extra one would show raw, and a lost
`<a href=...>` would drop a link the sentence speaks of."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from app.locales import TRANSLATIONS

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%])")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")
CATALOGS = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def read(path):
    with open(path, "rb") as file:
        return read_po(file)


def key(message):
    return message.id if isinstance(message.id, str) else tuple(message.id)


def placeholders(text):
    """The named placeholders of a message, and its positional ones (which a translator cannot
    reorder, so the code must not use them), `%%` aside."""
    found = [(name, kind) for name, kind in PLACEHOLDER.findall(text) if kind != "%"]
    return {name for name, _ in found if name}, sum(1 for name, _ in found if not name)


def tags(text):
    return sorted(TAG.findall(text))


def forms(message):
    return [message.string] if isinstance(message.string, str) else list(message.string)


def sources(message):
    return [message.id] if isinstance(message.id, str) else list(message.id)


@pytest.fixture(scope="module")
def template():
    return read(TRANSLATIONS / "messages.pot")


def test_every_language_has_its_catalog():
    found = sorted(path.parent.parent.name for path in CATALOGS)
    assert found == ["ar", "de", "es", "fr", "pt_BR"], found


def test_the_template_is_what_the_code_asks_to_translate(tmp_path, template):
    """A word marked in the code but not extracted would show in English in every language:
    after marking words, `make translations-update` (then translate and compile)."""
    fresh = tmp_path / "messages.pot"
    keywords = re.search(r"^KEYWORDS = (.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "extract", "--mapping-file", "babel.cfg",
                    *keywords, "--add-comments", "Translators:", "--output-file", str(fresh), "."],
                   cwd=ROOT, check=True, capture_output=True)
    wanted = {key(message) for message in read(fresh) if message.id}
    have = {key(message) for message in template if message.id}
    assert not wanted - have, f"not in messages.pot (make translations-update): {sorted(wanted - have)[:10]}"
    assert not have - wanted, f"no longer in the code (make translations-update): {sorted(have - wanted)[:10]}"


def test_the_code_uses_named_placeholders_only(template):
    positional = [message.id for message in template if message.id
                  if any(placeholders(text)[1] for text in sources(message))]
    assert not positional, f"use %(name)s so translators can reorder: {positional[:5]}"


@pytest.mark.parametrize("po_file", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_each_catalog_is_complete_and_current(po_file, template):
    catalog = read(po_file)
    messages = [message for message in catalog if message.id]
    untranslated = [key(m) for m in messages if not all(form.strip() for form in forms(m))]
    fuzzy = [key(m) for m in messages if m.fuzzy]
    assert not untranslated, f"{len(untranslated)} untranslated, e.g. {untranslated[:5]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy (check and remove the flag), e.g. {fuzzy[:5]}"
    assert not catalog.obsolete, f"obsolete entries left: {list(catalog.obsolete)[:5]}"
    assert {key(m) for m in messages} == {key(m) for m in template if m.id}, "run make translations-update"
    assert len(next(iter(forms(m) for m in messages if m.pluralizable), [])) in (0, catalog.num_plurals)


@pytest.mark.parametrize("po_file", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_translations_keep_the_placeholders_and_tags_of_the_english(po_file):
    wrong = []
    for message in read(po_file):
        if not message.id:
            continue
        english = sources(message)
        names = set().union(*(placeholders(text)[0] for text in english))
        for form in filter(None, forms(message)):  # (an empty one is the completeness test's)
            used = placeholders(form)[0]
            # A plural form may spell its number out ("un código"), so %(num)d may be left out.
            if used - names or (names - {"num"}) - used or placeholders(form)[1]:
                wrong.append((key(message), form, "placeholders"))
            if tags(form) != tags(english[0]):
                wrong.append((key(message), form, "tags"))
    assert not wrong, "\n".join(map(repr, wrong[:10]))


@pytest.mark.parametrize("po_file", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_the_header_names_the_language_and_its_plurals(po_file):
    catalog = read(po_file)
    tag = po_file.parent.parent.name
    assert str(catalog.locale) == tag
    assert catalog.num_plurals == get_plural(catalog.locale).num_plurals


def test_the_checker_finds_a_bad_translation(tmp_path):
    """The checks above can fail: a catalog with each fault is refused."""
    po = tmp_path / "messages.po"
    po.write_text('msgid ""\nmsgstr ""\n"Language: es\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "Sent to %(phone)s."\nmsgstr "Enviado a %(telefono)s."\n\n'
                  'msgid "See <a href=\\"%(url)s\\">this</a>."\nmsgstr "Mira esto."\n', encoding="utf-8")
    with pytest.raises(AssertionError) as raised:
        test_translations_keep_the_placeholders_and_tags_of_the_english(po)
    assert "placeholders" in str(raised.value) and "tags" in str(raised.value)
