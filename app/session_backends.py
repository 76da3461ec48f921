"""Where server-side sessions are kept: the app's database (default) or Redis.

Each backend stores a session's data under the SHA-256 of its id, with its expiry, its user and when
it was last seen, and offers the same small set of atomic operations: an insert for a session
started in this request, an update or a touch that only change a session that still exists, deletes
by id or by user, and the list of a user's live sessions ("Where you're logged in").
"""
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import sqlalchemy as sa
from flask.sessions import session_json_serializer

from app.extensions import db
from app.models import ServerSession, User


@dataclass
class Found:
    data: dict
    expires_at: datetime
    user_id: Optional[int]
    user: Any = None  # the User row, when the backend could load it with the session
    last_seen: Optional[datetime] = None  # None for a session stored before it was kept


@dataclass(frozen=True)
class Listed:
    """One live session of a user, as `list_for_user` finds it; `key` is its store key."""
    key: str
    data: dict
    expires_at: datetime
    last_seen: Optional[datetime]


def utc_now():
    return datetime.now(timezone.utc)


def encode(data):
    return session_json_serializer.dumps(data)


def decode(text):
    data = session_json_serializer.loads(text)
    return data if isinstance(data, dict) else {}


class DatabaseBackend:
    """The `sessions` table. The session and its user come back in one statement."""

    def load(self, key, now):
        row = db.session.execute(
            sa.select(ServerSession.data, ServerSession.expires_at, ServerSession.user_id,
                      ServerSession.last_seen_at, User)
            .outerjoin(User, User.id == ServerSession.user_id)
            .where(ServerSession.id == key, ServerSession.expires_at > now)
        ).first()
        if row is None:
            return None
        return Found(decode(row.data.decode()), row.expires_at, row.user_id, row.User, row.last_seen_at)

    def insert(self, key, data, expires_at, user_id, seen=None):
        db.session.execute(sa.insert(ServerSession).values(
            id=key, user_id=user_id, data=encode(data).encode(), expires_at=expires_at,
            last_seen_at=seen or utc_now(),
        ))

    def update(self, key, data, expires_at, user_id=None, seen=None):
        db.session.execute(
            sa.update(ServerSession).where(ServerSession.id == key)
            .values(data=encode(data).encode(), expires_at=expires_at, last_seen_at=seen or utc_now())
            .execution_options(synchronize_session=False)
        )

    def touch(self, key, expires_at, user_id=None, seen=None):
        db.session.execute(
            sa.update(ServerSession).where(ServerSession.id == key)
            .values(expires_at=expires_at, last_seen_at=seen or utc_now())
            .execution_options(synchronize_session=False)
        )

    def list_for_user(self, user_id, now):
        """The user's live sessions, in one statement (the `user_id` index)."""
        rows = db.session.execute(
            sa.select(ServerSession.id, ServerSession.data, ServerSession.expires_at, ServerSession.last_seen_at)
            .where(ServerSession.user_id == user_id, ServerSession.expires_at > now)
        )
        return [Listed(row.id, decode(row.data.decode()), row.expires_at, row.last_seen_at) for row in rows]

    def delete(self, key, user_id=None):
        db.session.execute(
            sa.delete(ServerSession).where(ServerSession.id == key).execution_options(synchronize_session=False)
        )
        db.session.commit()  # an ended session stays ended, whatever the rest of the request does

    def delete_for_user(self, user_id, keep=None):
        query = sa.delete(ServerSession).where(ServerSession.user_id == user_id)
        if keep is not None:
            query = query.where(ServerSession.id != keep)
        ended = db.session.execute(query.execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        return ended

    def prune(self, now):
        db.session.execute(
            sa.delete(ServerSession).where(ServerSession.expires_at <= now)
            .execution_options(synchronize_session=False)
        )

    def commit(self):
        db.session.commit()


class RedisBackend:
    """`session:<key>` holds the data and its user, with the session's expiry as the key's TTL, and
    `session-seen:<key>` when it was last seen (epoch milliseconds), with the same TTL;
    `user-session-index:<user id>` lists that user's session keys in a sorted set scored by each
    session's expiry (epoch milliseconds), so members whose session has expired are dropped as new
    ones arrive, and an account logged into all month keeps a short index."""

    def __init__(self, client, longest_session):
        self.redis = client
        # The index must outlive every session it lists, or ending all of a user's sessions
        # would miss the older ones.
        self.index_seconds = int(longest_session.total_seconds()) + 24 * 3600

    @staticmethod
    def _key(key):
        return f"session:{key}"

    @staticmethod
    def _seen_key(key):
        """Apart from the data, so that a touch never rewrites (and so never undoes) the data a
        request running beside it just saved. Written without a check that the session still
        exists: a request in flight as its session ends may leave one behind, which is never read
        and expires when that session would have."""
        return f"session-seen:{key}"

    @staticmethod
    def _user_key(user_id):
        return f"user-session-index:{user_id}"

    @staticmethod
    def _legacy_user_key(user_id):
        """The plain set of keys that earlier releases kept: read until its sessions have expired."""
        return f"user-sessions:{user_id}"

    @staticmethod
    def _ttl_ms(expires_at):
        return max(1, int((expires_at - datetime.now(timezone.utc)).total_seconds() * 1000))

    @staticmethod
    def _score(expires_at):
        return int(expires_at.timestamp() * 1000)

    @staticmethod
    def _moment(milliseconds):
        try:
            return datetime.fromtimestamp(int(milliseconds) / 1000, timezone.utc)
        except (TypeError, ValueError):
            return None

    def load(self, key, now):
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(self._key(key))
        pipe.pttl(self._key(key))
        pipe.get(self._seen_key(key))
        raw, ttl, seen = pipe.execute()
        if raw is None or ttl is None or ttl <= 0:
            return None
        stored = json.loads(raw)
        return Found(decode(stored["data"]), now + timedelta(milliseconds=ttl), stored.get("user"),
                     last_seen=self._moment(seen))

    def _value(self, data, user_id):
        return json.dumps({"data": encode(data), "user": user_id})

    def _set_seen(self, pipe, key, seen, ttl):
        pipe.set(self._seen_key(key), self._score(seen or utc_now()), px=ttl)

    def insert(self, key, data, expires_at, user_id, seen=None):
        ttl = self._ttl_ms(expires_at)
        pipe = self.redis.pipeline()
        pipe.set(self._key(key), self._value(data, user_id), px=ttl, nx=True)
        self._set_seen(pipe, key, seen, ttl)
        if user_id is not None:
            index = self._user_key(user_id)
            pipe.zremrangebyscore(index, "-inf", self._score(datetime.now(timezone.utc)))
            pipe.zadd(index, {key: self._score(expires_at)})
            pipe.expire(index, self.index_seconds)
        pipe.execute()

    def _move_expiry(self, pipe, key, expires_at, user_id):
        """The index follows a session's new expiry; XX: a member removed stays removed."""
        if user_id is not None:
            pipe.zadd(self._user_key(user_id), {key: self._score(expires_at)}, xx=True)

    def update(self, key, data, expires_at, user_id, seen=None):
        ttl = self._ttl_ms(expires_at)
        pipe = self.redis.pipeline()
        # XX: set only if the session still exists.
        pipe.set(self._key(key), self._value(data, user_id), px=ttl, xx=True)
        self._set_seen(pipe, key, seen, ttl)
        self._move_expiry(pipe, key, expires_at, user_id)
        pipe.execute()

    def touch(self, key, expires_at, user_id=None, seen=None):
        ttl = self._ttl_ms(expires_at)
        pipe = self.redis.pipeline()
        pipe.pexpire(self._key(key), ttl)  # a no-op once the key is gone
        self._set_seen(pipe, key, seen, ttl)
        self._move_expiry(pipe, key, expires_at, user_id)
        pipe.execute()

    def delete(self, key, user_id=None):
        pipe = self.redis.pipeline()
        pipe.delete(self._key(key), self._seen_key(key))
        if user_id is not None:
            pipe.zrem(self._user_key(user_id), key)
            pipe.srem(self._legacy_user_key(user_id), key)
        pipe.execute()

    def _listed_keys(self, user_id, live_after=None):
        """The session keys the user's index (and the legacy set) list: all of them, or those whose
        session expires after `live_after`."""
        index, legacy = self._user_key(user_id), self._legacy_user_key(user_id)
        pipe = self.redis.pipeline(transaction=False)
        if live_after is None:
            pipe.zrange(index, 0, -1)
        else:
            pipe.zrangebyscore(index, f"({self._score(live_after)}", "+inf")
        pipe.smembers(legacy)
        listed, listed_before = pipe.execute()
        return sorted({member.decode() for member in [*listed, *listed_before]})

    def list_for_user(self, user_id, now):
        """The user's live sessions, in two round trips: the index, then each session it lists."""
        keys = self._listed_keys(user_id, live_after=now)
        if not keys:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.get(self._key(key))
            pipe.pttl(self._key(key))
            pipe.get(self._seen_key(key))
        answers = pipe.execute()
        found = []
        for key, (raw, ttl, seen) in zip(keys, zip(*[iter(answers)] * 3)):
            if raw is None or ttl is None or ttl <= 0:
                continue
            stored = json.loads(raw)
            if stored.get("user") != user_id:
                continue
            found.append(Listed(key, decode(stored["data"]), now + timedelta(milliseconds=ttl), self._moment(seen)))
        return found

    def delete_for_user(self, user_id, keep=None):
        index, legacy = self._user_key(user_id), self._legacy_user_key(user_id)
        doomed = [key for key in self._listed_keys(user_id) if key != keep]
        if not doomed:
            return 0
        pipe = self.redis.pipeline()
        for key in doomed:
            pipe.delete(self._key(key))
        pipe.delete(*(self._seen_key(key) for key in doomed))
        pipe.zrem(index, *doomed)
        pipe.srem(legacy, *doomed)
        return sum(pipe.execute()[:len(doomed)])

    def prune(self, now):
        """Redis expires sessions by itself."""

    def commit(self):
        """Every Redis command is already applied."""
