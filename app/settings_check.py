"""Refuse to start in production with settings that would make the app unsafe.

Each refusal names the variable to fix: an operator reading the one line a failed start leaves in
the log should know what to change.
"""
import ipaddress
import math
import re
from collections import Counter
from urllib.parse import urlsplit

from app.encryption import is_fernet_key
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
MAKE_FERNET_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
# The OWASP Password Storage Cheat Sheet's minimum for Argon2id: pairs of passes and memory (KiB)
# that defend equally, one lane each; more passes allow less memory.
ARGON2_OWASP_MINIMUM = {1: 47104, 2: 19456, 3: 12288, 4: 9216, 5: 7168}


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


def check_encryption_keys(keys):
    """Refuse no ENCRYPTION_KEYS, or one that is not a Fernet key (named by position, never shown)."""
    if not keys:
        raise UnsafeSettings(
            "ENCRYPTION_KEYS must be set in production: one or more Fernet keys, comma separated, the "
            f"first encrypting; make one with: {MAKE_FERNET_KEY}"
        )
    for position, key in enumerate(keys, start=1):
        if not is_fernet_key(key):
            raise UnsafeSettings(
                f"ENCRYPTION_KEYS: key {position} of {len(keys)} is not a Fernet key (32 bytes in url-safe "
                f"base64); make one with: {MAKE_FERNET_KEY}"
            )


def argon2_least_memory(time_cost):
    """The least PASSWORD_ARGON2_MEMORY_KIB the cheat sheet allows with `time_cost` passes."""
    return ARGON2_OWASP_MINIMUM[min(max(time_cost, 1), max(ARGON2_OWASP_MINIMUM))]


def check_password_hash_cost(config):
    """Refuse an Argon2id cost below the OWASP minimum (app.passwords checked they are numbers)."""
    memory, passes = config["PASSWORD_ARGON2_MEMORY_KIB"], config["PASSWORD_ARGON2_TIME_COST"]
    least = argon2_least_memory(passes)
    if memory < least:
        pairs = ", ".join(f"{kib} KiB × {t}" for t, kib in ARGON2_OWASP_MINIMUM.items())
        raise UnsafeSettings(
            f"PASSWORD_ARGON2_MEMORY_KIB={memory} with PASSWORD_ARGON2_TIME_COST={passes} is below the OWASP "
            f"minimum for Argon2id and refused in production: with {passes} pass{'es' if passes > 1 else ''} "
            f"use at least {least} KiB (the cheat sheet's equal pairs of memory × passes: {pairs}, "
            "or more of either)."
        )
HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def check_webauthn(rp_id, origins):
    """Passkeys are bound to one host name (the RP ID) and accepted only from the listed origins."""
    if not rp_id:
        raise UnsafeSettings("WEBAUTHN_RP_ID must be set in production: the site's host name, like example.com "
                             "(passkeys are bound to it).")
    try:
        ipaddress.ip_address(rp_id.strip("[]"))
        is_address = True
    except ValueError:
        is_address = False
    if is_address or not HOST_NAME.match(rp_id):
        raise UnsafeSettings(f"WEBAUTHN_RP_ID must be a host name like example.com (not an address, a port or a "
                             f"URL): {rp_id!r}")
    if not origins:
        raise UnsafeSettings("WEBAUTHN_ORIGINS must list the site's https origins in production, comma separated, "
                             f"like https://{rp_id}.")
    for origin in origins:
        parts = urlsplit(origin)
        try:
            parts.port
        except ValueError:
            parts = None
        if (parts is None or parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/")
                or parts.query or parts.fragment or parts.username or parts.password):
            raise UnsafeSettings(f"WEBAUTHN_ORIGINS: {origin!r} is not an https origin like https://{rp_id}.")
        if parts.hostname != rp_id and not parts.hostname.endswith("." + rp_id):
            raise UnsafeSettings(f"WEBAUTHN_ORIGINS: {origin!r} is not on WEBAUTHN_RP_ID ({rp_id}) or a subdomain of it.")


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
    check_encryption_keys(config.get("ENCRYPTION_KEYS") or [])
    check_password_hash_cost(config)
    check_mail_settings(config)
    check_webauthn(config.get("WEBAUTHN_RP_ID"), config.get("WEBAUTHN_ORIGINS") or [])


def check_mail_settings(config):
    """Production sends mail by SMTP, or says plainly that it sends none (MAIL_DISABLED=1)."""
    if config.get("MAIL_DISABLED"):
        return
    if not config.get("MAIL_SERVER"):
        raise UnsafeSettings(
            "MAIL_SERVER must be set in production (with MAIL_PORT, MAIL_USE_TLS or MAIL_USE_SSL, MAIL_USERNAME, "
            "MAIL_PASSWORD and MAIL_DEFAULT_SENDER); or set MAIL_DISABLED=1 to run without email: no password "
            "reset by email and no security notices."
        )
    if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
        raise UnsafeSettings("MAIL_USE_TLS and MAIL_USE_SSL can't both be set: STARTTLS on 587, or TLS from the start on 465.")
    sender = config.get("MAIL_DEFAULT_SENDER") or ""
    if not sender or sender.endswith(("@localhost", "@localhost>")):
        raise UnsafeSettings("MAIL_DEFAULT_SENDER must be set in production to the address mail comes from, "
                             "e.g. \"SMS 2FA <no-reply@sms2fa.example.com>\".")
