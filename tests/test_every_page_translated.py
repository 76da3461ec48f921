"""Every page, in every language, with no English left (issue "Languages", Tests).

One person's journey (sign up, a wrong password, an address and its email, 2FA on by text
message with a wrong code first, the recovery codes and their download, each profile page, a
login with a wrong code, another way, a recovery code, the error pages) is walked twice: in
English and in the language under test. Each page must render (no 500), say the same in the
language's words, and, compared with the same page in English, show no English word that the
language's own catalog doesn't also use ("SMS", "App" and "Passkey" are German too). Names,
numbers, the product's name and the countries and languages named by Babel are left aside.
"""
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from babel import Locale

from app.locales import TRANSLATIONS, language
from tests.conftest import PASSWORD, AuthActions, build_app, dispose_app, make_config
from tests.mail_support import sent_mails
from tests.support import NO_SEND_LIMITS

LANGUAGES = ["es", "fr", "de", "pt-BR", "ar"]
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
# Names and words that are the same in every language: the product, the services and systems a
# page names, and what the person typed.
NAMES = {"sms", "2fa", "utc", "whatsapp", "twilio", "chrome", "windows", "ip", "totp", "alice", "example", "com",
         "localhost", "http", "https", "www", "txt"}
VISIBLE_ATTRIBUTES = re.compile(r'\b(?:aria-label|title|placeholder|alt|content)="([^"]*)"')
HIDDEN = re.compile(r"<(script|style|svg|template)\b.*?</\1>|<head>.*?</head>", re.S | re.I)
# Codes and keys (recovery codes, setup keys): random letters, which may spell "it" or "on".
RANDOM = re.compile(r"\b\w*\d\w*\b|<ul[^>]*font-monospace.*?</ul>|id=\"setup-key\">[^<]*", re.S)
LINK = re.compile(r"https?://\S+")  # an email's links: addresses, not words
WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")


def visible_words(page):
    """The words a person reads or hears: the text, and the attributes screen readers and
    browsers show (aria-label, title, placeholder, alt, the meta description)."""
    head_description = re.findall(r'<meta name="description" content="([^"]*)"', page)
    body = RANDOM.sub(" ", HIDDEN.sub(" ", page))
    texts = [re.sub(r"<[^>]+>", " ", body), *VISIBLE_ATTRIBUTES.findall(body), *head_description]
    return {word.lower().strip("'’") for text in texts
            for word in WORD.findall(RANDOM.sub(" ", LINK.sub(" ", html.unescape(text))))}


def catalog_words(tag):
    from babel.messages.pofile import read_po

    path = TRANSLATIONS / tag.replace("-", "_") / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as file:
        catalog = read_po(file)
    words = set()
    for message in catalog:
        for form in [message.string] if isinstance(message.string, str) else message.string:
            words |= {word.lower().strip("'’") for word in WORD.findall(re.sub(r"%\(\w+\)\w", " ", form or ""))}
    return words


def babel_words(tag):
    """Countries (the phone form's list), languages (the menu), months and days, as Babel writes
    them in this language: the page's own words, not English left over."""
    locale = Locale.parse(tag.replace("-", "_"))
    names = [*locale.territories.values(), *(language(other).name for other in ["en", *LANGUAGES]),
             *locale.months["format"]["abbreviated"].values(), *locale.months["format"]["wide"].values(),
             *locale.days["format"]["wide"].values()]
    return {word.lower() for name in names for word in WORD.findall(name)}


def journey(app, fake, tag, phone):
    """The pages of one person's journey, as (name, status, html), in the language `tag`."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT
    client.set_cookie("locale", tag)
    auth = AuthActions(client, fake)
    pages = []

    def keep(name, response, status=200):
        assert response.status_code == status, f"{tag} {name}: {response.status_code}"
        pages.append((name, response.get_data(as_text=True)))
        return response

    def get(name, path, status=200):
        return keep(name, client.get(path), status)

    def post(name, path, data, status=200, form_url=None):
        return keep(name, auth.post(path, data, form_url=form_url), status)

    def follow(name, response):
        if response.status_code != 302:
            return keep(name, response)
        location = urlsplit(response.headers["Location"])
        return get(name, location.path + (f"?{location.query}" if location.query else ""))

    get("login", "/auth/login")
    post("login, wrong password", "/auth/login", {"username": "nobody", "password": "wrong password"}, 401)
    get("sign up", "/auth/register")
    post("sign up, mismatched passwords", "/auth/register",
         {"username": "alice", "password": PASSWORD, "password2": PASSWORD + "x"}, 400)
    follow("profile, just signed up", auth.register("alice"))
    reauthenticate = client.get("/profile/email").headers["Location"]
    get("confirm it's you", reauthenticate)
    post("confirm it's you, wrong password", reauthenticate, {"password": "wrong password"}, 401)
    auth.confirm_its_you_to("/profile/email", phone=phone)
    get("email", "/profile/email")
    post("email, not an address", "/profile/email", {"email": "not an address"}, 400)
    follow("email, link sent", auth.post("/profile/email", {"email": "alice@example.com"}))
    confirmation = [mail for mail in sent_mails(app) if mail.links()][-1]
    pages += [("email: confirm the address (text)", confirmation.subject + "\n" + confirmation.text),
              ("email: confirm the address (html)", confirmation.html)]
    link = urlsplit(confirmation.links()[0])
    get("confirm the address", f"{link.path}?{link.query}")
    token = parse_qs(link.query)["token"][0]
    follow("address confirmed", auth.post(link.path, {"token": token}, form_url=f"{link.path}?{link.query}"))

    get("enable 2FA", "/profile/2fa/enable")
    post("enable 2FA, not a number", "/profile/2fa/enable", {"country": "GB", "phone": "12"}, 400)
    follow("code sent to the new phone", auth.post("/profile/2fa/enable", {"country": "GB", "phone": phone}))
    post("phone's code, wrong", "/profile/2fa/confirm", {"code": "000000"}, 401)
    follow("recovery codes", auth.confirm(phone=phone))
    get("recovery codes download", "/profile/recovery-codes.txt")
    follow("profile, 2FA on", auth.post("/profile/recovery-codes", {}))
    for name, path in [("authenticator app", "/profile/authenticator-app"), ("add a passkey", "/profile/passkeys/add"),
                       ("sessions", "/profile/sessions"), ("password", "/profile/password"),
                       ("delete", "/profile/delete"), ("disable 2FA", "/profile/2fa/disable"),
                       ("new recovery codes", "/profile/recovery-codes/regenerate"),
                       ("change phone", "/profile/2fa/phone"), ("remove an address", "/profile/email/remove")]:
        get(name, path)
    post("password, too short", "/profile/password", {"password": "short", "password2": "short"}, 400)
    post("password, too common", "/profile/password", {"password": "password123", "password2": "password123"}, 400)
    for number, mail in enumerate(sent_mails(app), 1):
        pages += [(f"email {number}", mail.subject + "\n" + mail.text), (f"email {number} (html)", mail.html)]

    follow("logged out", auth.logout())
    follow("code page", auth.login("alice"))
    post("code page, wrong code", "/auth/verify", {"code": "000000"}, 401)
    get("another way", "/auth/verify/another")
    get("recovery code", "/auth/recovery")
    post("recovery code, wrong", "/auth/recovery", {"code": "aaaa-bbbb-cccc"}, 401)
    response = auth.post("/auth/verify", {"code": fake.last_code(phone), "remember_device": "y"})
    follow("profile, a browser remembered", response)

    get("not found", "/no-such-page", 404)
    get("method not allowed", "/auth/logout", 405)
    keep("form without its token", client.post("/profile/password", data={"current_password": "x"}), 400)
    get("expired reset link", "/auth/reset-password?token=" + "x" * 43, 400)
    return pages


@pytest.fixture
def walk(fake):
    def run(tag, phone):
        app = build_app(make_config(fake, **NO_SEND_LIMITS))
        try:
            return journey(app, fake, tag, phone)
        finally:
            dispose_app(app)
    return run


@pytest.fixture(scope="module")
def english_pages():
    return {}


@pytest.mark.parametrize("tag", LANGUAGES)
def test_every_page_is_in_the_language_with_no_english_left(walk, english_pages, tag):
    if not english_pages:
        english_pages.update(walk("en", "+447400123450"))
    pages = walk(tag, f"+44740012345{LANGUAGES.index(tag) + 1}")
    assert [name for name, _ in pages] == list(english_pages), "the journey went another way"
    own_words = catalog_words(tag) | babel_words(tag) | NAMES
    left = {}
    for name, page in pages:
        english = visible_words(english_pages[name])
        assert f'lang="{tag}"' in page or name.startswith("email") or name.endswith("download"), name
        leftovers = (visible_words(page) & english) - own_words
        if leftovers:
            left[name] = sorted(leftovers)
    assert not left, f"English left in {tag}:\n" + "\n".join(f"  {name}: {words}" for name, words in left.items())


def test_the_walk_finds_english_left_over():
    """The comparison can fail: an English sentence left on a Spanish page is found."""
    english = visible_words('<p>Your code is wrong.</p><button aria-label="Forget this browser">x</button>')
    spanish = visible_words('<p>Tu código es incorrecto. Forget this browser</p>')
    assert (spanish & english) - catalog_words("es") == {"forget", "this", "browser"}
