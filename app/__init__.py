"""The application factory."""
import logging
import math
import time
from pathlib import Path

from flask import Flask, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from app import health, verification
from app.extensions import bootstrap, csrf, db, limiter, login_manager, migrate
from app.session_store import session_interface
from app.settings_check import check_production_settings
from config import config_for

CSP = {
    "default-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'self'",
    "object-src": "'none'",
}


def create_app(config_class=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config_class or config_for())
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_logging(app)
    check_production_settings(app)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_session_rules(app)
    register_commands(app)
    health.init_app(app)
    return app


def configure_logging(app):
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # twilio's HTTP client logs every request with its headers at INFO: too much, and personal.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def register_extensions(app):
    db.init_app(app)
    migrate.init_app(app, db)
    csrf.init_app(app)
    bootstrap.init_app(app)
    limiter.init_app(app)
    app.session_interface = session_interface(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
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


def register_blueprints(app):
    from app.auth import bp as auth_bp
    from app.profile import bp as profile_bp

    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(profile_bp, url_prefix="/profile")

    @app.route("/")
    def index():
        """Home: the profile when logged in, else the login page."""
        return redirect(url_for("profile.index" if current_user.is_authenticated else "auth.login"))


def register_errorhandlers(app):
    from app.verification import VerificationError

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        flash("Your form expired or was sent from another site. Please try again.", "warning")
        return render_template("errors/error.html", error=error), 400

    @app.errorhandler(429)
    def too_many_requests(error):
        retry_after = dict(error.get_headers()).get("Retry-After")
        limit = getattr(error, "limit", None) and limiter.current_limit
        if retry_after is None and limit is not None:
            retry_after = str(max(1, math.ceil(limit.reset_at - time.time())))
        response = app.make_response((render_template("errors/429.html", retry_after=retry_after), 429))
        if retry_after:
            response.headers["Retry-After"] = retry_after
        return response

    @app.errorhandler(VerificationError)
    def verification_error(error):
        flash(error.message, "danger")
        return render_template("errors/error.html", error=None), error.status

    @app.errorhandler(HTTPException)
    def http_error(error):
        return render_template("errors/error.html", error=error), error.code

    @app.errorhandler(Exception)
    def unexpected_error(error):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return render_template("errors/500.html"), 500


def register_session_rules(app):
    from app.auth.session import end_session
    from app.security import AUTH_AT, FINGERPRINT, REMEMBERED, client_fingerprint

    @app.before_request
    def end_expired_or_moved_sessions():
        """Sessions end 12 hours after login (30 days with remember-me), or when the address or
        browser they were started from changes (Flask-Login's "strong" protection does not
        cover remembered, permanent sessions)."""
        if not current_user.is_authenticated:
            return None
        lifetime = app.config["REMEMBER_LIFETIME" if session.get(REMEMBERED) else "SESSION_ABSOLUTE_LIFETIME"]
        if session.get(FINGERPRINT) != client_fingerprint():
            message = "Your session ended because your network or browser changed. Please log in again."
        elif within(session.get(AUTH_AT), lifetime):
            return None
        else:
            message = "Your session has ended. Please log in again."
        end_session()
        flash(message, "info")
        return redirect(url_for("auth.login"))


def within(started, lifetime):
    return isinstance(started, (int, float)) and 0 <= time.time() - started <= lifetime.total_seconds()


def register_commands(app):
    from app.cli import users

    app.cli.add_command(users)


@login_manager.user_loader
def load_user(session_token):
    import sqlalchemy as sa

    from app.models import User

    return db.session.scalar(sa.select(User).where(User.session_token == session_token))
