"""Sessions: on the server once someone is logged in or half-way through a login, a signed cookie
for everyone else.

A visitor who only reads pages leaves nothing on the server: the one thing an anonymous form needs,
its CSRF token, travels in a signed cookie. `start()` moves a session to the server under a new
random id; the cookie then holds only that id and the store only its SHA-256, so a copy of the store
lets no one in. A stored session is only ever updated where it still exists, so a request that was
in flight when its session ended (logout, a factor change) cannot bring it back; only a session
started in this very request is inserted. Both stores index sessions by user, so every session of
an account can be listed ("Where you're logged in") or ended at once. Each also keeps when the
session last served a request, to within TOUCH_AFTER.
"""
import hashlib
import logging
import random
import re
import secrets
from datetime import datetime, timedelta, timezone

from flask.sessions import SessionInterface, SessionMixin, session_json_serializer
from itsdangerous import BadSignature, Serializer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from werkzeug.datastructures import CallbackDict

from app import events
from app.security import AUTH_AT, REMEMBERED
from app.session_backends import DatabaseBackend, RedisBackend

log = logging.getLogger(__name__)

# What an anonymous session may hold: the CSRF token of the forms it was shown.
ANONYMOUS_KEYS = frozenset({"csrf_token"})
# A server-side session lives while it holds one of these: a logged-in user or a pending login.
ANCHOR_KEYS = ("_user_id", "pending_login_user_id")
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
# An unchanged session's expiry (and when it was last seen) is pushed forward at most this often:
# reading a page then costs no write, and the idle timeout is exact to within this much.
TOUCH_AFTER = timedelta(seconds=60)


def store_key(session_id):
    return hashlib.sha256(session_id.encode()).hexdigest()


def now():
    return datetime.now(timezone.utc)


class Session(CallbackDict, SessionMixin):
    """Flask's session, plus where it lives: `session_id` is None while it is anonymous."""

    def __init__(self, data=None, session_id=None, stored=False, expires_at=None, user_id=None, cookie=None,
                 last_seen=None):
        def on_update(session):
            session.modified = True

        super().__init__(data, on_update)
        self.session_id = session_id
        self.stored = stored  # loaded from the store: only ever updated, never inserted again
        self.expires_at = expires_at
        self.last_seen = last_seen  # when the store last heard of it (None: not kept yet)
        self.user_id = user_id
        self.cookie = cookie  # the cookie value the request came with
        self.user = None  # the user row loaded with the session, when the store could join it
        self.modified = False

    @property
    def on_server(self):
        return self.session_id is not None

    def anchored(self):
        return any(key in self for key in ANCHOR_KEYS)


class UncompressedSerializer(URLSafeTimedSerializer):
    """itsdangerous' URL-safe serializer without its zlib attempt: a CSRF token gains nothing from
    compression, and starting zlib for every new visitor's cookie was a tenth of the login page's
    time. Reading still accepts either form."""

    def dump_payload(self, obj):
        return base64_encode(Serializer.dump_payload(self, obj))


class ServerSideSessions(SessionInterface):
    """The app's session interface; `start`, `end` and `end_for_user` are its API for logins."""

    def __init__(self, app, backend):
        self.backend = backend
        self.prune_one_in = max(1, app.config["SESSION_CLEANUP_N_REQUESTS"])
        self.signer = UncompressedSerializer(
            app.secret_key,
            salt="anonymous-session",
            serializer=session_json_serializer,
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
        )

    # -- the login API ------------------------------------------------------------------------
    def start(self, session, user_id):
        """A new server-side session for `user_id` under a new id; the old one (if any) ends."""
        if session.on_server:
            self.backend.delete(store_key(session.session_id), session.user_id)
        session.clear()
        session.session_id = secrets.token_urlsafe(32)
        session.stored = False
        session.user_id = user_id
        session.modified = True

    def end(self, session, keep=ANONYMOUS_KEYS):
        """Deletes the server-side session now; the session object becomes anonymous."""
        kept = {key: session[key] for key in keep if key in session}
        if session.on_server:
            self.backend.delete(store_key(session.session_id), session.user_id)
        session.clear()
        session.update(kept)
        session.session_id = session.user_id = session.user = None
        session.stored = False

    def end_for_user(self, user_id, except_session=None):
        """Ends every session of `user_id` (but `except_session`); returns how many ended."""
        keep = store_key(except_session.session_id) if except_session is not None and except_session.on_server else None
        return self.backend.delete_for_user(user_id, keep)

    def list_for_user(self, user_id):
        """The live sessions of `user_id` (pending logins too), each with its store key."""
        return self.backend.list_for_user(user_id, now())

    def end_listed(self, user_id, key):
        """Ends the session of `user_id` stored under `key` (from `list_for_user`)."""
        self.backend.delete(key, user_id)

    # -- Flask's interface --------------------------------------------------------------------
    def open_session(self, app, request):
        raw = request.cookies.get(self.get_cookie_name(app))
        if not raw:
            return Session()
        if SESSION_ID.match(raw):
            try:
                found = self.backend.load(store_key(raw), now())
            except Exception:
                log.exception("The session store could not be read; serving the request as anonymous")
                found = None
            if found is None:
                return Session(cookie=raw)
            session = Session(found.data, session_id=raw, stored=True, expires_at=found.expires_at,
                              user_id=found.user_id, cookie=raw, last_seen=found.last_seen)
            session.user = found.user
            return session
        try:
            data = self.signer.loads(raw, max_age=int(app.config["SESSION_ABSOLUTE_LIFETIME"].total_seconds()))
        except (BadSignature, ValueError, TypeError):
            return Session(cookie=raw)
        if not isinstance(data, dict):
            return Session(cookie=raw)
        return Session({key: value for key, value in data.items() if key in ANONYMOUS_KEYS}, cookie=raw)

    def save_session(self, app, session, response):
        if session.on_server and not session.anchored():
            self.end(session)  # nobody is logged in and no login is pending: nothing to keep
        if session.on_server:
            self._save_on_server(app, session, response)
        else:
            self._save_anonymous(app, session, response)

    def _save_on_server(self, app, session, response):
        key = store_key(session.session_id)
        seen = now()
        expires_at = seen + lifetime_of(app, session)
        if not session.stored:
            self.backend.insert(key, dict(session), expires_at, session.user_id, seen=seen)
            if random.randrange(self.prune_one_in) == 0:
                self.backend.prune(now())
                events.prune(app.config["SECURITY_EVENT_RETENTION_DAYS"])
            self.backend.commit()
            self._set_cookie(app, response, session.session_id, expires_at if session.permanent else None)
        elif session.modified:
            # Updated only where it still exists: a session ended meanwhile stays ended.
            self.backend.update(key, dict(session), expires_at, session.user_id, seen=seen)
            self.backend.commit()
        elif (session.expires_at is None or expires_at - session.expires_at >= TOUCH_AFTER
              or session.last_seen is None or seen - session.last_seen >= TOUCH_AFTER):
            # (A remembered session's expiry stays put: only its "last seen" moves.)
            self.backend.touch(key, expires_at, session.user_id, seen=seen)
            self.backend.commit()

    def _save_anonymous(self, app, session, response):
        unexpected = set(session) - ANONYMOUS_KEYS
        if unexpected:
            # A notice for someone not logged in travels in the login page's address (app.notices);
            # anything else here is a bug, and is not written into a cookie.
            log.error("Keys dropped from an anonymous session: %s", ", ".join(sorted(unexpected)))
            if app.testing:
                raise RuntimeError(f"keys in an anonymous session: {sorted(unexpected)}")
        data = {key: session[key] for key in ANONYMOUS_KEYS if key in session}
        if data and (session.modified or session.cookie is None or SESSION_ID.match(session.cookie)):
            self._set_cookie(app, response, self.signer.dumps(data), None)
        elif not data and session.cookie is not None:
            response.delete_cookie(
                self.get_cookie_name(app), domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
                secure=self.get_cookie_secure(app), httponly=self.get_cookie_httponly(app),
                samesite=self.get_cookie_samesite(app),
            )

    def _set_cookie(self, app, response, value, expires):
        response.set_cookie(
            self.get_cookie_name(app),
            value,
            expires=expires,
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
        )
        response.vary.add("Cookie")


def lifetime_of(app, session):
    """How long a session lives from now: the idle timeout, or what is left of remember-me."""
    if not session.get(REMEMBERED):
        return app.permanent_session_lifetime
    started = session.get(AUTH_AT, 0)
    left = app.config["REMEMBER_LIFETIME"] - (now() - datetime.fromtimestamp(started, timezone.utc))
    return max(left, timedelta(0))


def session_interface(app):
    url = app.config.get("SESSION_REDIS_URL")
    if url:
        import redis

        longest = max(app.config["REMEMBER_LIFETIME"], app.config["SESSION_ABSOLUTE_LIFETIME"])
        return ServerSideSessions(app, RedisBackend(redis.from_url(url), longest))
    return ServerSideSessions(app, DatabaseBackend())
