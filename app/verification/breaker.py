"""A circuit breaker around calls to Twilio: a brownout turns into fast, plain answers.

- closed: calls go through. TWILIO_BREAKER_FAILURES outages in a row (timeouts, refused
  connections, TLS failures, 5xx answers), the first of them no longer ago than
  TWILIO_BREAKER_WINDOW_SECONDS, open it. A refusal (a 4xx such as 60200, 60410 or 20429) is
  Twilio answering: it counts as a success.
- open: for TWILIO_BREAKER_COOLDOWN_SECONDS no call is made; the person gets the plain
  "unavailable" page at once instead of waiting TWILIO_TIMEOUT for it.
- half-open: after the cool-down one call (one in the whole deployment) probes Twilio while the
  others still fail fast. If it gets an answer the breaker closes; if not, it opens again.

With Redis (RATELIMIT_STORAGE_URI redis://...) every process shares one breaker; otherwise each
process keeps its own. pybreaker keeps the state and the counts (in memory or Redis); its
CircuitBreaker.call() holds one lock for the whole call, which would make a worker's threads wait
on Twilio one after another, so here the lock is held only to record an outcome, and the single
probe is claimed with an atomic flag (Redis SET NX, or a lock in memory).
"""
import logging
import math
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pybreaker
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN
# Hosts' clocks differ a little: an opening stamped by another host may lie this far ahead.
CLOCK_SKEW = timedelta(seconds=5)


class BreakerOpen(Exception):
    """Twilio was not called: the breaker is open (or another call is probing)."""


class _Outage(Exception):
    """Stands for the failed call when its outcome is recorded."""


class _WindowedMemoryStorage(pybreaker.CircuitMemoryStorage):
    """pybreaker's memory storage, counting failures in a row only within `window` seconds."""

    def __init__(self, window):
        super().__init__(CLOSED)
        self._window = window
        self._first_failure = None

    def increment_counter(self):
        now = time.monotonic()
        if self._first_failure is None or now - self._first_failure > self._window:
            super().reset_counter()
            self._first_failure = now
        super().increment_counter()

    def reset_counter(self):
        super().reset_counter()
        self._first_failure = None


class _WindowedRedisStorage(pybreaker.CircuitRedisStorage):
    """pybreaker's Redis storage; the failure count expires `window` seconds after the first.

    Whatever Redis holds is read as if anyone could have written it: a value that is not a state's
    name, a count or a time in the past reads as closed, nothing counted, and no time (a cool-down
    already over). A forged or corrupt value must neither stop every send nor fail a request.
    """

    def __init__(self, client, namespace, window):
        self._window = window
        super().__init__(CLOSED, client, namespace=namespace)

    def _initialize_redis_state(self, state):
        try:
            super()._initialize_redis_state(state)
        except RedisError:  # Redis down at start: the app starts, the breaker acts closed
            log.warning("Redis unreachable: the Twilio circuit breaker starts closed")

    def increment_counter(self):
        key = self._namespace("fail_counter")
        try:
            if self._redis.incr(key) == 1:
                self._redis.expire(key, self._window)
        except RedisError:  # also a stored value that INCR cannot add to
            self.logger.exception("RedisError")

    @property
    def state(self):
        try:
            state = pybreaker.CircuitRedisStorage.state.fget(self)
        except UnicodeDecodeError:
            return CLOSED
        return state if state in (CLOSED, OPEN, HALF_OPEN) else CLOSED

    @state.setter
    def state(self, state):
        pybreaker.CircuitRedisStorage.state.fset(self, state)

    @property
    def counter(self):
        return self._whole_number("fail_counter")

    @property
    def success_counter(self):
        return self._whole_number("success_counter")

    def _whole_number(self, name):
        try:
            return max(0, int(self._redis.get(self._namespace(name)) or 0))
        except (RedisError, ValueError):
            return 0

    @property
    def opened_at(self):
        try:
            opened = datetime.fromtimestamp(int(self._redis.get(self._namespace("opened_at"))), timezone.utc)
        except (RedisError, TypeError, ValueError, OverflowError, OSError):
            return None
        return opened if opened <= datetime.now(timezone.utc) + CLOCK_SKEW else None

    @opened_at.setter
    def opened_at(self, now):
        # A plain SET: pybreaker's keeps the greatest time ever written, so one set far ahead would
        # outlast every later opening.
        try:
            self._redis.set(self._namespace("opened_at"), int(now.timestamp()))
        except RedisError:
            self.logger.exception("RedisError")


class _MemoryProbe:
    def __init__(self):
        self._lock = threading.Lock()
        self._until = 0.0

    def claim(self, ttl):
        with self._lock:
            now = time.monotonic()
            if now < self._until:
                return False
            self._until = now + ttl
            return True

    def release(self):
        with self._lock:
            self._until = 0.0


class _RedisProbe:
    def __init__(self, client, key):
        self._client, self._key = client, key

    def claim(self, ttl):
        try:
            return bool(self._client.set(self._key, "1", nx=True, ex=max(1, math.ceil(ttl))))
        except RedisError:
            return True  # no shared flag to take: let the call through, as a closed breaker would

    def release(self):
        try:
            self._client.delete(self._key)
        except RedisError:
            pass


class _LogStateChanges(pybreaker.CircuitBreakerListener):
    def state_change(self, cb, old_state, new_state):
        old = old_state.name if old_state else None
        if new_state.name == OPEN:
            log.warning("Twilio circuit breaker open (was %s): calls fail fast for %s s", old, cb.reset_timeout)
        elif new_state.name == CLOSED and old in (OPEN, HALF_OPEN):
            log.warning("Twilio circuit breaker closed: Twilio answers again")
        elif new_state.name == HALF_OPEN:
            log.info("Twilio circuit breaker half-open: one call probes Twilio")


def _nothing():
    return None


def _fail():
    raise _Outage()


class TwilioBreaker:
    def __init__(self, failures, window, cooldown, probe_ttl, redis_client=None, namespace="twilio-breaker"):
        if redis_client is None:
            self._storage, self._probe = _WindowedMemoryStorage(window), _MemoryProbe()
        else:
            self._storage = _WindowedRedisStorage(redis_client, namespace, window)
            self._probe = _RedisProbe(redis_client, f"{namespace}:probe")
        self.shared = redis_client is not None
        self._probe_ttl = probe_ttl
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=failures, reset_timeout=cooldown, state_storage=self._storage, name="twilio",
        )
        self._breaker.add_listener(_LogStateChanges())

    @property
    def state(self):
        """"closed", "open" or "half-open" (an open breaker whose cool-down is over reports
        "half-open": the next call probes)."""
        state = self._breaker.current_state
        if state == OPEN and self.cooldown_left() <= 0:
            return HALF_OPEN
        return state

    @property
    def failures(self):
        return self._breaker.fail_counter

    def cooldown_left(self):
        """Seconds until an open breaker lets a call probe Twilio (0 when closed)."""
        if self._breaker.current_state != OPEN:
            return 0.0
        opened_at = self._storage.opened_at
        if opened_at is None:
            return 0.0
        cooldown = self._breaker.reset_timeout
        until = opened_at + timedelta(seconds=cooldown)
        return min(float(cooldown), max(0.0, (until - datetime.now(timezone.utc)).total_seconds()))

    def status(self):
        """What /readyz reports."""
        try:
            return {"state": self.state, "failures": self.failures,
                    "retry_in": math.ceil(self.cooldown_left()), "shared": self.shared}
        except Exception:  # whatever the shared state holds, readiness answers
            return {"state": "unknown", "shared": self.shared}

    def reset(self):
        """Closed, with no failures counted (tests; an operator after fixing the cause)."""
        self._breaker.close()
        self._probe.release()

    @contextmanager
    def guard(self, is_outage):
        """Runs the block as one call to Twilio, or raises BreakerOpen without running it.
        An exception for which `is_outage` is true counts as a failure; anything else Twilio
        answered counts as a success."""
        probing = self._admit()
        try:
            yield
        except Exception as error:
            self._record(failed=is_outage(error))
            raise
        else:
            self._record(failed=False)
        finally:
            if probing:
                self._probe.release()

    def _admit(self):
        state = self._breaker.current_state
        if state == CLOSED:
            return False
        if state == OPEN and self.cooldown_left() > 0:
            raise BreakerOpen()
        if not self._probe.claim(self._probe_ttl):
            raise BreakerOpen()  # another call is probing
        self._breaker.half_open()
        return True

    def _record(self, failed):
        # Instant calls through pybreaker: its lock is held only while the outcome is counted.
        try:
            self._breaker.call(_fail if failed else _nothing)
        except (_Outage, pybreaker.CircuitBreakerError):
            pass  # counted (or the breaker opened meanwhile and a late outcome changes nothing)


def make_breaker(config):
    """The app's breaker: shared through Redis when the rate limits live in Redis."""
    uri = config.get("RATELIMIT_STORAGE_URI") or ""
    client = None
    if uri.startswith(("redis://", "rediss://")):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # No retries with back-off: with Redis gone, a request must not wait seconds per lookup.
        client = redis.Redis.from_url(uri, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    service = config.get("TWILIO_VERIFY_SERVICE_ID") or "default"
    return TwilioBreaker(
        failures=config["TWILIO_BREAKER_FAILURES"],
        window=config["TWILIO_BREAKER_WINDOW_SECONDS"],
        cooldown=config["TWILIO_BREAKER_COOLDOWN_SECONDS"],
        probe_ttl=config["TWILIO_TIMEOUT"] + 5,
        redis_client=client,
        namespace=f"{config.get('RATELIMIT_KEY_PREFIX', 'sms2fa')}:twilio-breaker:{service}",
    )
