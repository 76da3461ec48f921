"""Counted limits on our own actions (sending codes, checking them), kept in the rate-limit storage.

Flask-Limiter guards whole routes; these guard a thing inside a route, such as one phone number,
one account or one pending login, and share its storage so several app servers count together.
Every limit is taken with `hit()`, which tests and counts in one atomic step: two requests racing
for the last send cannot both get it. A request takes all its limits or none of them.
"""
import math
import time

from flask import current_app
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from app.extensions import limiter
from app.i18n import _
from app.waits import wait_in_words


class Throttled(TooManyRequests):
    """A 429 with a Retry-After header and a sentence for the page; `sentence` is the reason
    alone, for a page that writes the wait out itself."""

    def __init__(self, message, retry_after, sentence=None):
        self.retry_after_seconds = max(1, math.ceil(retry_after))
        self.sentence = sentence
        super().__init__(description=message, retry_after=self.retry_after_seconds)


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


class Taken:
    """Limits taken by one request; `refund()` gives them back (for an action that did not happen)."""

    def __init__(self, hits):
        self.hits = hits

    def refund(self):
        for item, key in self.hits:
            strategy().hit(item, *key, cost=-1)
        self.hits = []


def take(checks, message):
    """Takes one from every (spec, key) in `checks`, or none of them: raises Throttled with
    `message(wait_in_words)` when any is used up."""
    limits = strategy()
    hits = []
    for spec, key in checks:
        for item in parse_many(spec):
            allowed = limits.hit(item, *key)
            hits.append((item, key))
            if not allowed:
                wait = limits.get_window_stats(item, *key).reset_time - time.time()
                Taken(hits).refund()
                raise Throttled(message(wait_in_words(wait)), wait)
    return Taken(hits)


def take_in_turn(checks):
    """A route's limits, narrowest first: takes one from each (spec, key, sentence) in order and
    stops at the first that refuses, raising Throttled with its sentence (None: the page's own),
    a marked message translated here into the page's language.

    A broad limit (one account from anywhere, the whole site) therefore counts only the requests
    that the narrow ones before it (one client address) let through: what one stranger sends can
    fill their own limits, never the owner's or everyone's. Off with the route limits
    (RATELIMIT_ENABLED=False), unlike `take`'s limits on sending, which guard money."""
    if not limiter.enabled:
        return
    limits = strategy()
    for spec, key, sentence in checks:
        for item in parse_many(spec):
            if not limits.hit(item, key):
                wait = limits.get_window_stats(item, key).reset_time - time.time()
                words = _(sentence) if sentence else None
                raise Throttled(words or "", wait, words)


def wait_for(spec, *key):
    """Seconds until `spec` allows one more for `key`; 0 when it does now."""
    limits = strategy()
    waits = [
        limits.get_window_stats(item, *key).reset_time - time.time()
        for item in parse_many(spec)
        if not limits.test(item, *key)
    ]
    return max(waits, default=0)


def clear(spec, *key):
    for item in parse_many(spec):
        strategy().clear(item, *key)
