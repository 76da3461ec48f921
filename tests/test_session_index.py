"""Security review row 7, "the Redis index of a user's sessions never drops expired members": the
index (`RedisBackend._user_key(user_id)`) is a sorted set of the user's session keys scored by each
session's expiry (epoch milliseconds). Members whose session has expired are pruned whenever a
session of the user is inserted, and a session's score moves with its expiry when it is touched or
updated, so the index holds about as many members as the user has live sessions."""
import os
import secrets
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis

from tests.conftest import redis_url

pytestmark = [pytest.mark.redis, pytest.mark.app_settings(SESSION_REDIS_URL=os.environ.get("REDIS_URL"))]

USER = 7
EXPIRED = 28


def now():
    return datetime.now(timezone.utc)


def ms(moment):
    return moment.timestamp() * 1000


@pytest.fixture
def backend(app, store):
    """The app's Redis session backend, inside an app context, with user 7's sessions gone before
    and after."""
    from app.session_backends import RedisBackend

    backend = app.session_interface.backend
    assert isinstance(backend, RedisBackend), type(backend)
    with app.app_context():
        backend.delete_for_user(USER)
        store.delete(backend._user_key(USER))
        yield backend
        backend.delete_for_user(USER)
        store.delete(backend._user_key(USER))


@pytest.fixture
def store():
    client = redis.Redis.from_url(redis_url())
    yield client
    client.close()


def members(store, index):
    """The index's members (decoded) and how many, whichever kind of set it is."""
    kind = store.type(index).decode()
    if kind == "zset":
        return {m.decode() for m in store.zrange(index, 0, -1)}
    if kind == "set":
        return {m.decode() for m in store.smembers(index)}
    assert kind == "none", f"the index {index} is a Redis {kind}"
    return set()


def score(store, index, key):
    """The member's score: when its session expires, in epoch milliseconds."""
    kind = store.type(index).decode()
    assert kind == "zset", f"the index {index} is a Redis {kind}, not a sorted set: its members carry no expiry"
    value = store.zscore(index, key)
    assert value is not None, f"{key} is not in the index"
    return value


def new_key():
    return secrets.token_hex(32)  # the SHA-256 of a session id, as the session store writes it


def test_expired_sessions_leave_the_index_when_a_session_is_inserted(backend, store):
    index = backend._user_key(USER)
    for _ in range(EXPIRED):
        backend.insert(new_key(), {"_user_id": str(USER)}, now() + timedelta(milliseconds=50), USER)
    time.sleep(0.2)  # all 28 have expired
    live_key, live_until = new_key(), now() + timedelta(hours=1)
    backend.insert(live_key, {"_user_id": str(USER)}, live_until, USER)

    indexed = members(store, index)
    only_the_live_one = indexed == {live_key}
    assert only_the_live_one, (
        f"the index of user {USER}'s sessions holds {len(indexed)} members after {EXPIRED} sessions expired "
        f"and 1 was started ({len(indexed - {live_key})} of them expired)")
    assert abs(score(store, index, live_key) - ms(live_until)) <= 1000

    assert backend.delete_for_user(USER) == 1
    assert backend.load(live_key, now()) is None, "delete_for_user left the live session"


def test_touching_a_session_moves_its_score_to_the_new_expiry(backend, store):
    index = backend._user_key(USER)
    key = new_key()
    backend.insert(key, {"_user_id": str(USER)}, now() + timedelta(minutes=10), USER)
    later = now() + timedelta(hours=2)
    refused = None
    try:
        backend.touch(key, later, user_id=USER)
    except TypeError as error:
        refused = str(error)
    assert refused is None, f"touch() takes no user_id, so it cannot move the session's score in the index: {refused}"
    moved = score(store, index, key)
    assert abs(moved - ms(later)) <= 1000, f"the score is {moved}, the session expires at {ms(later):.0f}"


def test_updating_a_session_moves_its_score_to_the_new_expiry(backend, store):
    index = backend._user_key(USER)
    key = new_key()
    backend.insert(key, {"_user_id": str(USER)}, now() + timedelta(minutes=10), USER)
    later = now() + timedelta(hours=3)
    backend.update(key, {"_user_id": str(USER), "changed": True}, later, USER)
    moved = score(store, index, key)
    assert abs(moved - ms(later)) <= 1000, f"the score is {moved}, the session expires at {ms(later):.0f}"
