"""Counted limits on our own actions (sending codes), kept in the rate-limit storage.

Flask-Limiter guards whole routes; these guard a thing inside a route, such as one phone
number or one account, and share its storage so several app servers count together.
"""
import math
import time

from flask import current_app
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from app.extensions import limiter


class Throttled(TooManyRequests):
    """A 429 with a Retry-After header and a sentence for the page."""

    def __init__(self, message, retry_after):
        super().__init__(description=message, retry_after=max(1, math.ceil(retry_after)))
        self.retry_after_seconds = max(1, math.ceil(retry_after))



def strategy():
    """Flask-Limiter's strategy; when its route limits are off (RATELIMIT_ENABLED=False, where it
    makes none), one of ours on the same storage: the SMS throttles guard money and stay on."""
    if limiter.enabled:
        return limiter.limiter
    extensions = current_app.extensions
    if "throttle_strategy" not in extensions:
        storage = storage_from_string(current_app.config["RATELIMIT_STORAGE_URI"])
        extensions["throttle_strategy"] = FixedWindowRateLimiter(storage)
    return extensions["throttle_strategy"]


def seconds_until_allowed(spec, *key):
    """0 when `spec` allows one more now, else how long until it does."""
    limits = strategy()
    waits = [
        limits.get_window_stats(item, *key).reset_time - time.time()
        for item in parse_many(spec)
        if not limits.test(item, *key)
    ]
    return max(waits, default=0)


def wait_for(checks):
    """Seconds until every (spec, key) in `checks` allows one more; 0 when they all do."""
    return max((seconds_until_allowed(spec, *key) for spec, key in checks), default=0)


def hit(checks):
    for spec, key in checks:
        for item in parse_many(spec):
            strategy().hit(item, *key)


def consume(checks, message):
    """Takes one from every (spec, key) in `checks`, or none of them if any is used up."""
    wait = wait_for(checks)
    if wait > 0:
        raise Throttled(message, wait)
    hit(checks)
