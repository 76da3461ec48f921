"""Refuse to start in production with settings that would make the app unsafe.

Each refusal names the variable to fix: an operator reading the one line a failed start leaves in
the log should know what to change.
"""
import math
import re
from collections import Counter
from urllib.parse import urlsplit

from config import DEV_SECRET_PLACEHOLDER

TWILIO_SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_VERIFY_SERVICE_ID")
WEAK_SECRETS = {"", DEV_SECRET_PLACEHOLDER, "dev", "secret", "changeme"}
# Words that keys typed by hand are made of; a key mostly made of them is guessable.
COMMON_WORDS = (
    "password", "passwd", "secret", "change", "changeme", "default", "example", "sample", "flask",
    "django", "admin", "letmein", "qwerty", "welcome", "production", "prod", "development", "test",
    "key", "app", "my", "super", "the", "this", "is", "for", "and", "abc", "123", "sms", "twofa",
)
MIN_SECRET_BITS = 64  # the estimate is rough: this refuses the patterns, not honest random keys


class UnsafeSettings(SystemExit):
    """Exits the process with a message that names the variable to fix."""


def estimated_bits(secret):
    """A generous estimate of a secret's entropy: its length times the Shannon entropy of its
    characters, with runs of common words and repeats counted as one character each."""
    squeezed = re.sub("|".join(sorted(COMMON_WORDS, key=len, reverse=True)), "\0", secret.lower())
    squeezed = re.sub(r"(.)\1{2,}|(..+?)\2+", r"\1\2", squeezed)  # "aaaa", "abcabc" say no more than "a", "abc"
    counts = Counter(squeezed)
    per_char = -sum(n / len(squeezed) * math.log2(n / len(squeezed)) for n in counts.values()) if squeezed else 0
    return per_char * len(squeezed)


def check_secret_key(secret):
    if secret in WEAK_SECRETS or len(secret) < 32:
        raise UnsafeSettings("SECRET_KEY must be set to a random value of at least 32 characters in production.")
    if estimated_bits(secret) < MIN_SECRET_BITS:
        raise UnsafeSettings(
            "SECRET_KEY looks guessable (repeated characters or common words); use a random value: "
            "python -c \"import secrets; print(secrets.token_hex(32))\""
        )


def check_production_settings(app):
    config = app.config
    if config.get("ENV_NAME") != "production":
        return
    check_secret_key(config.get("SECRET_KEY") or "")
    if config["VERIFY_PROVIDER"] != "twilio":
        raise UnsafeSettings("VERIFY_PROVIDER=console writes codes to the log and is refused in production; set VERIFY_PROVIDER=twilio.")
    for name in TWILIO_SETTINGS:
        if not config.get(name):
            raise UnsafeSettings(f"{name} must be set in production.")
    base_url = config.get("TWILIO_API_BASE_URL")
    if base_url and not config.get("ALLOW_TWILIO_BASE_URL"):
        raise UnsafeSettings("TWILIO_API_BASE_URL sends the Twilio auth token elsewhere; in production set ALLOW_TWILIO_BASE_URL=1 if that is meant.")
    if base_url and urlsplit(base_url).scheme != "https":
        raise UnsafeSettings("TWILIO_API_BASE_URL must be an https URL in production: it receives the Twilio auth token.")
    if config["RATELIMIT_STORAGE_URI"].startswith("memory://") and not config.get("RATELIMIT_ALLOW_MEMORY"):
        raise UnsafeSettings(
            "RATELIMIT_STORAGE_URI is memory://, which counts in each process alone; use redis:// "
            "(or set RATELIMIT_ALLOW_MEMORY=1 when exactly one process serves)."
        )
    if not config.get("TRUSTED_HOSTS"):
        raise UnsafeSettings("TRUSTED_HOSTS must list the host names the site answers to in production (comma separated).")
    if config.get("TRUSTED_PROXIES") and not config.get("FORWARDED_ALLOW_IPS"):
        raise UnsafeSettings("FORWARDED_ALLOW_IPS must name the proxies' addresses when TRUSTED_PROXIES is set.")
