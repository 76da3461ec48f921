"""The application factory."""
import logging
import time
from pathlib import Path

from flask import redirect, request, session, url_for
from flask_login import current_user
from flask_talisman import Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

from app import expired_forms, health, mail, passwords, verification
from app.body_limit import ChunkedBodyLimit
from app.errors import register_errorhandlers
from app import assets, form_html, i18n, migrations_on_demand
from app.extensions import bootstrap, csrf, db, limiter, login_manager
from app.session_store import session_interface
from app.settings_check import check_production_settings
from app.flask_app import App
from config import config_for

@limiter.request_filter
def reading_a_page_is_never_limited():
    """Every limit here guards an action (a POST): a page read skips Flask-Limiter's work, a fifth
    of the login page's time. A limit on a GET would need this filter changed."""
    return request.method in ("GET", "HEAD", "OPTIONS")


CSP = {
    "default-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'self'",
    "object-src": "'none'",
}


def create_app(config_class=None):
    app = App(__name__, instance_relative_config=True)
    app.config.from_object(config_class or config_for())
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_logging(app)
    passwords.check_settings(app.config)
    check_production_settings(app)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_session_rules(app)
    expired_forms.init_app(app)  # after the session rules: see app/expired_forms.py
    register_commands(app)
    health.init_app(app)
    return app


def configure_logging(app):
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # twilio's HTTP client logs every request with its headers at INFO: too much, and personal.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    # Flask-Limiter logs each refusal at INFO with the limit's key; the keys hold no typed value
    # (app.security.hashed_key), and the 429 is in the access log already.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    # Alembic, loaded only for `flask db`, announces each of its plugins at INFO.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def register_extensions(app):
    db.init_app(app)
    migrations_on_demand.init_app(app)
    csrf.init_app(app)
    bootstrap.init_app(app)
    form_html.init_app(app)
    assets.init_app(app)
    i18n.init_app(app)
    limiter.init_app(app)
    app.session_interface = session_interface(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # The login page says "Please log in to see this page" itself (app.notices): a flash would
    # need a session, and an anonymous visitor has none on the server.
    login_manager.login_message = None
    # Flask-Login's protection binds a session to the address too; ours (register_session_rules)
    # binds it to the browser only.
    login_manager.session_protection = None
    Talisman(
        app,
        force_https=app.config["FORCE_HTTPS"],
        strict_transport_security=app.config["FORCE_HTTPS"],
        session_cookie_secure=app.config.get("SESSION_COOKIE_SECURE", False),
        content_security_policy=CSP,
        referrer_policy="same-origin",
        frame_options="DENY",
    )
    verification.init_app(app)
    mail.init_app(app)


def register_blueprints(app):
    from app.auth import bp as auth_bp
    from app.auth.code_step import refuse_channels_not_offered
    from app.profile import bp as profile_bp

    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(profile_bp, url_prefix="/profile")
    # Before expired_forms' CSRF check (registered last): a channel left out is a 404, whatever the token.
    app.before_request(refuse_channels_not_offered)

    @app.route("/")
    def index():
        """Home: the profile when logged in, else the login page."""
        return redirect(url_for("profile.index" if current_user.is_authenticated else "auth.login"))


def register_session_rules(app):
    from app import events
    from app.auth.session import end_session
    from app.notices import to_login
    from app.security import AUTH_AT, FINGERPRINT, NETWORK, REMEMBERED, client_fingerprint, client_network

    @app.before_request
    def end_expired_or_moved_sessions():
        """Sessions end 12 hours after login (30 days with remember-me), or when the browser they
        were started in changes. A new network (Wi-Fi to mobile data) is only recorded."""
        if not session.get("_user_id") or not current_user.is_authenticated:
            return None  # (an anonymous visitor: no user to load)
        lifetime = app.config["REMEMBER_LIFETIME" if session.get(REMEMBERED) else "SESSION_ABSOLUTE_LIFETIME"]
        if session.get(FINGERPRINT) != client_fingerprint():
            notice = "browser-changed"
        elif not within(session.get(AUTH_AT), lifetime):
            notice = "session-ended"
        else:
            network = client_network()
            if session.get(NETWORK) != network:
                session[NETWORK] = network
                events.record(events.NEW_NETWORK, current_user)
            return None
        end_session()
        return to_login(notice)


def within(started, lifetime):
    return isinstance(started, (int, float)) and 0 <= time.time() - started <= lifetime.total_seconds()


def register_commands(app):
    from app.cli import encryption_keys, users
    from app.mail.cli import mail as mail_commands

    app.cli.add_command(users)
    app.cli.add_command(encryption_keys)
    app.cli.add_command(mail_commands)


@login_manager.user_loader
def load_user(session_token):
    """The user whose current token the session holds; the database session store has usually
    loaded that row already, with the session, in the same statement."""
    import secrets

    import sqlalchemy as sa

    from app.models import User

    user = getattr(session, "user", None)
    if user is not None and secrets.compare_digest(user.session_token, session_token):
        return user
    return db.session.scalar(sa.select(User).where(User.session_token == session_token))
