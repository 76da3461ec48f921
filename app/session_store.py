"""Server-side sessions (Flask-Session): in the app's database by default, in Redis when set.

Flask-Session's own SQLAlchemy backend declares its model anew for every app and creates its
table outside the migrations; this backend stores sessions in a table the migrations own.
"""
import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask_session.base import ServerSideSession, ServerSideSessionInterface

from app.extensions import db
from app.models import ServerSession
from app.security import AUTH_AT, REMEMBERED


def lifetime_of(app, session):
    """How long a session lives from now: idle timeout, or what is left of remember-me."""
    if not session.get(REMEMBERED):
        return app.permanent_session_lifetime
    left = app.config["REMEMBER_LIFETIME"].total_seconds() - (time.time() - session.get(AUTH_AT, 0))
    return timedelta(seconds=max(0, left))


class RememberAware:
    """Stores a remembered session (and sets its cookie) for what is left of its 30 days."""

    def get_expiration_time(self, app, session):
        return datetime.now(timezone.utc) + lifetime_of(app, session) if session.permanent else None

    def _upsert_session(self, session_lifetime, session, store_id):
        super()._upsert_session(lifetime_of(self.app, session), session, store_id)


class DatabaseStore(ServerSideSessionInterface):
    session_class = ServerSideSession
    ttl = False  # expired rows are deleted every SESSION_CLEANUP_N_REQUESTS requests on average

    def _retrieve_session_data(self, store_id):
        row = db.session.get(ServerSession, store_id)
        if row is None:
            return None
        if row.expires_at <= datetime.now(timezone.utc):
            self._delete_session(store_id)
            return None
        return self.serializer.decode(row.data)

    def _delete_session(self, store_id):
        db.session.execute(sa.delete(ServerSession).where(ServerSession.id == store_id))
        db.session.commit()

    def _upsert_session(self, session_lifetime, session, store_id):
        expires_at = datetime.now(timezone.utc) + session_lifetime
        data = self.serializer.encode(session)
        updated = db.session.execute(
            sa.update(ServerSession).where(ServerSession.id == store_id).values(data=data, expires_at=expires_at)
        )
        if updated.rowcount == 0:
            db.session.add(ServerSession(id=store_id, data=data, expires_at=expires_at))
        db.session.commit()

    def should_set_storage(self, app, session):
        """Requests that never look at the session (static files) don't rewrite it."""
        return session.modified or (app.config["SESSION_REFRESH_EACH_REQUEST"] and session.accessed)

    def _delete_expired_sessions(self):
        now = datetime.now(timezone.utc)
        db.session.execute(sa.delete(ServerSession).where(ServerSession.expires_at <= now))
        db.session.commit()


class DatabaseSessionInterface(RememberAware, DatabaseStore):
    pass


def session_interface(app):
    config = app.config
    options = {
        "key_prefix": "session:",
        "permanent": config["SESSION_PERMANENT"],
        "sid_length": 32,
    }
    if config.get("SESSION_REDIS_URL"):
        import redis
        from flask_session.redis import RedisSessionInterface

        class RedisInterface(RememberAware, RedisSessionInterface):
            pass

        return RedisInterface(app, client=redis.from_url(config["SESSION_REDIS_URL"]), **options)
    return DatabaseSessionInterface(app, cleanup_n_requests=config["SESSION_CLEANUP_N_REQUESTS"], **options)
