"""Refuse to start in production with settings that would make the app unsafe."""
import logging

from config import DEV_SECRET_PLACEHOLDER

log = logging.getLogger(__name__)

TWILIO_SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_VERIFY_SERVICE_ID")
WEAK_SECRETS = {"", DEV_SECRET_PLACEHOLDER, "dev", "secret", "changeme"}


class UnsafeSettings(SystemExit):
    """Exits the process with a message that names the variable to fix."""


def check_production_settings(app):
    if app.config.get("ENV_NAME") != "production":
        return
    secret = app.config.get("SECRET_KEY") or ""
    if secret in WEAK_SECRETS or len(secret) < 32:
        raise UnsafeSettings("SECRET_KEY must be set to a random value of at least 32 characters in production.")
    if app.config["VERIFY_PROVIDER"] != "twilio":
        raise UnsafeSettings("VERIFY_PROVIDER=console writes codes to the log and is refused in production; set VERIFY_PROVIDER=twilio.")
    for name in TWILIO_SETTINGS:
        if not app.config.get(name):
            raise UnsafeSettings(f"{name} must be set in production.")
    if app.config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        log.warning("RATELIMIT_STORAGE_URI is memory://: each process counts alone; use redis:// with several processes.")
