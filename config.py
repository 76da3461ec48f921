"""Settings read from the environment (and `.env` in development), one class per APP_ENV."""
import base64
import os
import secrets
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
# Tests set APP_ENV=testing first, so a developer's .env cannot change what they check.
if os.environ.get("APP_ENV") != "testing":
    load_dotenv(BASE_DIR / ".env")

DEV_SECRET_PLACEHOLDER = "change-me"
# Changing this string changes every derived key, and so loses what development encrypted with it.
DERIVED_KEY_INFO = b"sms2fa ENCRYPTION_KEYS derived from SECRET_KEY, v1"


def env(name, default=None):
    """The variable's value; an empty one (as `.env.example` leaves them) counts as unset."""
    return os.environ.get(name) or default


def env_int(name, default):
    return int(env(name, default))


def env_list(name, upper=True):
    items = [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]
    return [item.upper() for item in items] if upper else items


def env_flag(name, default="false"):
    return env(name, default).lower() not in ("0", "false", "no")


def keys_from_setting(value, secret_key=None):
    """The keys of an ENCRYPTION_KEYS value, the encrypting one first; if none, one derived from `secret_key`."""
    keys = [key.strip() for key in (value or "").split(",") if key.strip()]
    if keys or not secret_key:
        return keys
    # Derived, not random: secrets encrypted by one `make run` still decrypt after a restart.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVED_KEY_INFO).derive(secret_key.encode())
    return [base64.urlsafe_b64encode(derived).decode()]


def default_verify_provider():
    has_twilio = all(
        os.environ.get(name)
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_VERIFY_SERVICE_ID")
    )
    return "twilio" if has_twilio else "console"


class Config:
    ENV_NAME = "development"
    SECRET_KEY = env("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'app.db'}")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # Fernet keys for secrets at rest (app/encryption.py): the first encrypts, all decrypt, so a
    # new key goes first and an old one stays until everything is re-encrypted. Production
    # refuses to start without them; development and tests derive one from SECRET_KEY.
    ENCRYPTION_KEYS = keys_from_setting(env("ENCRYPTION_KEYS"))

    VERIFY_PROVIDER = env("VERIFY_PROVIDER") or default_verify_provider()
    TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID")
    TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN")
    TWILIO_VERIFY_SERVICE_ID = env("TWILIO_VERIFY_SERVICE_ID")
    TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL")
    TWILIO_TIMEOUT = float(env("TWILIO_TIMEOUT", 5))
    # The circuit breaker around Twilio (app/verification/breaker.py): this many timeouts, refused
    # connections or 5xx in a row within the window open it; calls then fail fast for the cool-down.
    TWILIO_BREAKER_FAILURES = env_int("TWILIO_BREAKER_FAILURES", 5)
    TWILIO_BREAKER_WINDOW_SECONDS = env_int("TWILIO_BREAKER_WINDOW_SECONDS", 60)
    TWILIO_BREAKER_COOLDOWN_SECONDS = env_int("TWILIO_BREAKER_COOLDOWN_SECONDS", 30)
    # Checked when the app starts (4 to 10, as Verify allows): a bad value exits naming it.
    VERIFY_CODE_LENGTH = env("VERIFY_CODE_LENGTH", "6")
    # The language of a code when the browser asks for none Verify speaks; `auto`: the number's.
    VERIFY_DEFAULT_LOCALE = env("VERIFY_DEFAULT_LOCALE", "en")
    # The channels a code page offers, comma separated; checked at start (sms must be listed: the
    # first code of every step is a text), and read as a tuple from then on.
    VERIFY_CHANNELS = env("VERIFY_CHANNELS", "sms,call")

    # Passkeys (WebAuthn): the site's host name (the RP ID passkeys are bound to) and its https
    # origins, comma separated. Development and tests derive both from each request; production
    # refuses to start without them (app/settings_check.py).
    WEBAUTHN_RP_ID = env("WEBAUTHN_RP_ID")
    WEBAUTHN_ORIGINS = env_list("WEBAUTHN_ORIGINS", upper=False)

    # Every account must have a second factor: without one, a person can only set one up.
    REQUIRE_TWO_FACTOR = env_flag("REQUIRE_TWO_FACTOR")
    # The name authenticator apps show beside the account (the issuer of its otpauth:// key).
    APP_NAME = env("APP_NAME", "SMS 2FA")
    DEFAULT_COUNTRY = env("DEFAULT_COUNTRY", "US").upper()
    # The languages the menu offers, comma separated (`en,es`): each needs its catalog under
    # app/translations; empty offers every one shipped. Checked at start, then read as a tuple.
    LANGUAGES = env("LANGUAGES", "")
    # The language chosen in the menu, kept for a year (and on the account when logged in).
    LOCALE_COOKIE = "locale"
    SMS_ALLOWED_COUNTRIES = env_list("SMS_ALLOWED_COUNTRIES")
    SMS_DAILY_LIMIT = env_int("SMS_DAILY_LIMIT", 1000)
    # The share of the daily cap that only codes to already-verified numbers (logins) may use.
    SMS_DAILY_RESERVED_PERCENT = env_int("SMS_DAILY_RESERVED_PERCENT", 50)
    TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
    FORWARDED_ALLOW_IPS = env("FORWARDED_ALLOW_IPS")
    # Host names the app answers to (Flask refuses others with a 400); required in production.
    TRUSTED_HOSTS = env_list("TRUSTED_HOSTS", upper=False) or None
    ALLOW_TWILIO_BASE_URL = env_flag("ALLOW_TWILIO_BASE_URL")
    # Bodies are small forms: anything bigger is refused (413) before it is read.
    MAX_CONTENT_LENGTH = 64 * 1024

    # A code, a pending enrolment and a pending login all live as long as a Verify code.
    CODE_TTL = timedelta(minutes=10)
    CODE_ATTEMPTS_PER_LOGIN = env_int("CODE_ATTEMPTS_PER_LOGIN", 5)
    CODE_FAILURES_BEFORE_LOCK = env_int("CODE_FAILURES_BEFORE_LOCK", 20)
    CODE_LOCK_MINUTES = env_int("CODE_LOCK_MINUTES", 15)
    SUDO_MINUTES = env_int("SUDO_MINUTES", 10)
    TRUSTED_DEVICE_DAYS = env_int("TRUSTED_DEVICE_DAYS", 30)
    TRUSTED_DEVICE_COOKIE = "trusted_device"
    # Holds the key to new recovery codes kept in the session while they can be shown.
    RECOVERY_CODES_KEY_COOKIE = "recovery_codes_key"

    # Rate limits, in Flask-Limiter's notation.
    # Always explicit: Flask-Limiter's object is shared by every app in a process, and an app
    # whose config leaves RATELIMIT_ENABLED unset would inherit the previous app's value.
    RATELIMIT_ENABLED = env_flag("RATELIMIT_ENABLED", "true")
    RATELIMIT_STORAGE_URI = env("RATELIMIT_STORAGE_URI", "memory://")
    # memory:// counts per process: refused in production unless this says one process serves.
    RATELIMIT_ALLOW_MEMORY = env_flag("RATELIMIT_ALLOW_MEMORY")
    # Retry-After is set by our 429 page only; Flask-Limiter would add it to every answer.
    RATELIMIT_HEADERS_ENABLED = False
    RATELIMIT_KEY_PREFIX = "sms2fa"
    LOGIN_LIMIT_PER_IP = env("LOGIN_LIMIT_PER_IP", "20/minute;100/hour")
    # One username from one address; and one username from anywhere, which only ever asks for a
    # short wait, so strangers guessing from elsewhere can't lock the owner out for an hour.
    LOGIN_LIMIT_PER_USERNAME = env("LOGIN_LIMIT_PER_USERNAME", "10/minute;50/hour")
    LOGIN_LIMIT_PER_ACCOUNT = env("LOGIN_LIMIT_PER_ACCOUNT", "30/minute")
    REAUTH_LIMIT_PER_USER = env("REAUTH_LIMIT_PER_USER", "10/minute;50/hour")
    SIGNUP_LIMIT_PER_IP = env("SIGNUP_LIMIT_PER_IP", "10/hour")
    SIGNUP_LIMIT_GLOBAL = env("SIGNUP_LIMIT_GLOBAL", "100/minute")
    CODE_CHECK_LIMIT_PER_IP = env("CODE_CHECK_LIMIT_PER_IP", "30/minute")
    SEND_COOLDOWN_SECONDS = env_int("SEND_COOLDOWN_SECONDS", 30)
    # Codes to a number already verified on the asking account (logins, re-authentication) ...
    SEND_LIMIT_PER_NUMBER = env("SEND_LIMIT_PER_NUMBER", "5/10 minutes;10/day")
    # ... and to any other number (enrolment, a phone change), counted across all accounts. Below
    # Verify's own 5 sends per number, so enrolment attempts by others leave the owner codes.
    SEND_LIMIT_PER_NEW_NUMBER = env("SEND_LIMIT_PER_NEW_NUMBER", "3/10 minutes;6/day")
    SEND_LIMIT_PER_ACCOUNT = env("SEND_LIMIT_PER_ACCOUNT", "5/10 minutes;10/day")
    SEND_LIMIT_PER_IP = env("SEND_LIMIT_PER_IP", "10/10 minutes;30/day")

    # Sessions of people logged in live on the server: a copied cookie is worthless after logout.
    # A session cookie lasts as long as the browser, unless "Remember me" was ticked at login.
    SESSION_REDIS_URL = env("SESSION_REDIS_URL")
    # Expired database sessions are deleted at about one new session in this many.
    SESSION_CLEANUP_N_REQUESTS = env_int("SESSION_CLEANUP_N_REQUESTS", 1000)
    SECURITY_EVENT_RETENTION_DAYS = env_int("SECURITY_EVENT_RETENTION_DAYS", 365)
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=env_int("SESSION_IDLE_MINUTES", 30))
    SESSION_ABSOLUTE_LIFETIME = timedelta(hours=env_int("SESSION_ABSOLUTE_HOURS", 12))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # "Remember me" keeps the server-side session (and its cookie) for this long after login,
    # so logging out or rotating the user's token ends it like any other session.
    REMEMBER_LIFETIME = timedelta(days=env_int("REMEMBER_DAYS", 30))

    # Passwords are hashed with Argon2id at this cost (app/passwords.py); a hash made at another
    # cost, or with werkzeug's scrypt before, is made anew at the next login. The defaults are the
    # OWASP Password Storage Cheat Sheet's minimum (19 MiB, 2 passes, 1 lane), which production
    # refuses to go below (app/settings_check.py). Read as text: a value that is no whole number
    # stops the start with a sentence naming it.
    PASSWORD_ARGON2_MEMORY_KIB = env("PASSWORD_ARGON2_MEMORY_KIB", "19456")
    PASSWORD_ARGON2_TIME_COST = env("PASSWORD_ARGON2_TIME_COST", "2")
    PASSWORD_ARGON2_PARALLELISM = env("PASSWORD_ARGON2_PARALLELISM", "1")
    # Hash cost of recovery codes: scrypt N.
    RECOVERY_CODE_SCRYPT_N = 2**14

    BOOTSTRAP_SERVE_LOCAL = True
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the server-side session
    FORCE_HTTPS = False

    # Mail (app/mail): with MAIL_SERVER set, mail goes there by SMTP in every environment; without
    # it, development writes each mail to the log and production refuses to start unless
    # MAIL_DISABLED=1 (then no address, no reset by email, no notices).
    MAIL_SERVER = env("MAIL_SERVER")
    MAIL_USE_TLS = env_flag("MAIL_USE_TLS")
    MAIL_USE_SSL = env_flag("MAIL_USE_SSL")
    MAIL_PORT = env_int("MAIL_PORT", 465 if MAIL_USE_SSL else 587 if MAIL_USE_TLS else 25)
    MAIL_USERNAME = env("MAIL_USERNAME")
    MAIL_PASSWORD = env("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = env("MAIL_DEFAULT_SENDER", "SMS 2FA <no-reply@localhost>")
    MAIL_DISABLED = env_flag("MAIL_DISABLED")
    MAIL_TIMEOUT = float(env("MAIL_TIMEOUT", 10))  # seconds per SMTP connection, all of it
    # Each app process delivers queued mail from a thread of its own; 0 leaves it to
    # `flask mail send-queued --watch` in a process of its own.
    MAIL_DELIVERY_THREAD = env_flag("MAIL_DELIVERY_THREAD", "true")
    MAIL_POLL_SECONDS = env_int("MAIL_POLL_SECONDS", 30)  # how often it looks for mail others queued
    # The site's address in links that mails carry; default https:// and the first TRUSTED_HOSTS
    # (never the request's Host header, which a stranger chooses).
    APP_URL = env("APP_URL")
    RESET_LIMIT_PER_IP = env("RESET_LIMIT_PER_IP", "10/hour")
    RESET_LIMIT_PER_ADDRESS = env("RESET_LIMIT_PER_ADDRESS", "3/hour")
    RESET_LIMIT_PER_ACCOUNT = env("RESET_LIMIT_PER_ACCOUNT", "5/15 minutes")
    EMAIL_LIMIT_PER_ACCOUNT = env("EMAIL_LIMIT_PER_ACCOUNT", "5/hour;10/day")


class DevelopmentConfig(Config):
    SECRET_KEY = Config.SECRET_KEY or secrets.token_hex(32)
    ENCRYPTION_KEYS = keys_from_setting(env("ENCRYPTION_KEYS"), SECRET_KEY)


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    # Always derived: an ENCRYPTION_KEYS in the developer's environment stays out of the tests.
    ENCRYPTION_KEYS = keys_from_setting("", SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = env("TEST_DATABASE_URL", "sqlite://")
    VERIFY_PROVIDER = "console"
    RATELIMIT_STORAGE_URI = env("TEST_RATELIMIT_STORAGE_URI", "memory://")
    REQUIRE_TWO_FACTOR = False
    WEBAUTHN_RP_ID, WEBAUTHN_ORIGINS = None, []  # derived from each request
    SMS_ALLOWED_COUNTRIES = []
    DEFAULT_COUNTRY = "US"
    LANGUAGES = ""  # every language shipped, whatever the developer's environment says
    # The tests are about flows, not hash cost: cheap hashes keep hundreds of logins quick
    # (Argon2's least: 8 KiB, one pass).
    PASSWORD_ARGON2_MEMORY_KIB = 8
    PASSWORD_ARGON2_TIME_COST = 1
    PASSWORD_ARGON2_PARALLELISM = 1
    RECOVERY_CODE_SCRYPT_N = 2**4
    # Mail is kept in memory (flask_mailman's locmem) unless a test points MAIL_SERVER at its own
    # SMTP server; tests deliver the outbox themselves (app.mail.send_queued).
    MAIL_SERVER = None
    MAIL_USE_TLS = MAIL_USE_SSL = False
    MAIL_USERNAME = MAIL_PASSWORD = None
    MAIL_DISABLED = False
    MAIL_DELIVERY_THREAD = False
    MAIL_DEFAULT_SENDER = "SMS 2FA <no-reply@example.test>"
    APP_URL = "http://localhost"


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-session"
    TRUSTED_DEVICE_COOKIE = "__Host-trusted_device"
    RECOVERY_CODES_KEY_COOKIE = "__Host-recovery_codes_key"
    LOCALE_COOKIE = "__Host-locale"
    FORCE_HTTPS = env_flag("FORCE_HTTPS", "true")
    PREFERRED_URL_SCHEME = "https"


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(app_env=None):
    name = (app_env or env("APP_ENV") or "development").lower()
    if name not in CONFIGS:
        raise SystemExit(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {name!r}")
    return CONFIGS[name]
