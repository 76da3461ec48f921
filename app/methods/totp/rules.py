"""The authenticator-app rules (RFC 6238 TOTP), as every common app reads them: SHA-1, six digits,
a new code every 30 seconds, and one step of clock drift accepted either way.

Pure functions: nothing here reads the database or the request. The caller stores the step a code
matched and passes it back as `last_used_step`, so a code, once used, is never accepted again.
"""
import hashlib
import hmac
from datetime import datetime, timezone
from html import escape
from urllib.parse import quote, urlencode

import pyotp
import segno

from app.i18n import N_

DIGITS = 6
PERIOD = 30  # seconds
DRIFT_STEPS = 1  # a phone's clock a little off, or a code typed as it changes, still counts
QR_LABEL = N_("QR code for your authenticator app")  # translated by the caller, in its page


def _totp(secret):
    return pyotp.TOTP(secret, digits=DIGITS, digest=hashlib.sha1, interval=PERIOD)


def new_secret():
    """A new random key: 32 base32 characters, 160 bits (RFC 4226's recommended length)."""
    return pyotp.random_base32()


def provisioning_uri(secret, username, issuer):
    """The otpauth:// URI an authenticator app reads from the QR code."""
    # Built here rather than by pyotp, which leaves "/" unquoted in the label. The label's ":"
    # separates issuer and account, so a ":" inside either is quoted; spaces are %20, never "+".
    label = f"{quote(issuer, safe='')}:{quote(username, safe='')}"
    query = urlencode({"secret": secret, "issuer": issuer}, quote_via=quote)
    return f"otpauth://totp/{label}?{query}"


def key_in_groups(secret):
    """The key in groups of four ("ABCD EFGH …") for typing it in by hand."""
    return " ".join(secret[start:start + 4] for start in range(0, len(secret), 4))


def qr_svg(uri, label=QR_LABEL):
    """The URI as a QR code: an inline <svg> with no script, style or external reference."""
    # Opaque white around the black modules: a dark page theme must not swallow the quiet zone.
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff", title=label)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)


def normalized_code(code):
    """The code without spaces, or None unless it is then exactly DIGITS ASCII digits."""
    code = "".join((code or "").split())
    # str.isdigit alone would take "²" or Arabic-Indic digits, which pyotp never produces.
    return code if len(code) == DIGITS and code.isascii() and code.isdigit() else None


def step_at(at=None):
    """The time step at `at` (default now), as pyotp's timecode counts it; a naive datetime is UTC."""
    at = datetime.now(timezone.utc) if at is None else at
    # pyotp reads a naive datetime as local time; ours are UTC, whatever the server's zone.
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return int(at.timestamp()) // PERIOD


def matching_step(secret, code, at=None, last_used_step=None) -> int | None:
    """The step within DRIFT_STEPS of `at` whose code is `code`, or None; never one <= last_used_step."""
    code = normalized_code(code)
    if code is None:
        return None
    totp = _totp(secret)
    current = step_at(at)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step  # the earliest: a chance match of a later step would block the next code
    return None
