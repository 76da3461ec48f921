"""Flask-Security-Too with SMS two-factor, set up as its documentation shows: what this app is compared to.

Runs only in the bench's own virtual environment (bench/.venv-fst, made by bench/fst.py), never in
the app's: it imports nothing from app/. Settings come from the environment the bench gives every
server (SECRET_KEY) plus BENCH_FST_DATABASE_URL, SECURITY_PASSWORD_SALT and SECURITY_TOTP_SECRET
(bench/fst.py sets them).

    python -m bench.fst_app setup   creates the tables and one person with SMS two-factor on, then
                                    logs that person in with password and code to prove it works
    gunicorn ... bench.fst_app:app  serves it (GET /login is the page the bench compares)
"""
import os
import sys
from datetime import timedelta

from flask import Flask, render_template_string
from flask_security import (
    Security,
    SmsSenderBaseClass,
    SmsSenderFactory,
    SQLAlchemyUserDatastore,
    auth_required,
    hash_password,
)
from flask_security.models import fsqla_v3 as fsqla
from flask_sqlalchemy import SQLAlchemy

EMAIL = "bench@example.com"
PASSWORD = "bench password 1234"
PHONE = "+447400100000"


class BenchSmsSender(SmsSenderBaseClass):
    """Sends nothing over the network; keeps the last message so `setup` can read the code."""

    sent = []

    def send_sms(self, from_number, to_number, msg):
        self.sent.append((to_number, msg))


# "For other sms service providers you will need to subclass SmsSenderBaseClass and register it"
SmsSenderFactory.senders["Bench"] = BenchSmsSender

app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ["SECRET_KEY"],
    SECURITY_PASSWORD_SALT=os.environ["SECURITY_PASSWORD_SALT"],
    SQLALCHEMY_DATABASE_URI=os.environ["BENCH_FST_DATABASE_URL"],
    SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
    SQLALCHEMY_TRACK_MODIFICATIONS=False,
    REMEMBER_COOKIE_SAMESITE="strict",
    SESSION_COOKIE_SAMESITE="strict",
    SESSION_COOKIE_SECURE=True,
    SESSION_COOKIE_HTTPONLY=True,
    SECURITY_TWO_FACTOR=True,
    SECURITY_TWO_FACTOR_ENABLED_METHODS=["sms"],
    SECURITY_TWO_FACTOR_ALWAYS_VALIDATE=False,
    SECURITY_TWO_FACTOR_LOGIN_VALIDITY=timedelta(days=7),
    SECURITY_TOTP_SECRETS={"1": os.environ["SECURITY_TOTP_SECRET"]},
    SECURITY_TOTP_ISSUER="bench",
    SECURITY_SMS_SERVICE="Bench",
    SECURITY_SMS_SERVICE_CONFIG={"ACCOUNT_SID": None, "AUTH_TOKEN": None, "PHONE_NUMBER": "+15005550006"},
)

db = SQLAlchemy(app)
fsqla.FsModels.set_db_info(db)


class Role(db.Model, fsqla.FsRoleMixin):
    pass


class User(db.Model, fsqla.FsUserMixin):
    pass


class WebAuthn(db.Model, fsqla.FsWebAuthnMixin):  # fsqla_v3's User refers to it
    pass


user_datastore = SQLAlchemyUserDatastore(db, User, Role)
security = Security(app, user_datastore)


@app.route("/")
@auth_required()
def home():
    return render_template_string("Hello {{ current_user.email }}")


def setup():
    """Tables, one person with SMS two-factor, and a whole login with password and code."""
    with app.app_context():
        db.create_all()
        user = security.datastore.create_user(email=EMAIL, password=hash_password(PASSWORD))
        security.datastore.tf_set(user, "sms", totp_secret=security.totp_factory.generate_totp_secret(),
                                  phone=PHONE)
        db.session.commit()
    client = app.test_client()
    page = client.get("/login", base_url="https://127.0.0.1")
    assert page.status_code == 200 and b'name="csrf_token"' in page.data, page.status_code
    token = page.data.split(b'name="csrf_token" type="hidden" value="', 1)[1].split(b'"', 1)[0].decode()
    answer = client.post("/login", base_url="https://127.0.0.1", headers={"Referer": "https://127.0.0.1/login"},
                         data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302 and "/tf-validate" in answer.headers["Location"], answer.status_code
    to, message = BenchSmsSender.sent[-1]
    code = "".join(ch for ch in message if ch.isdigit())[-6:]
    assert to == PHONE and len(code) == 6, message
    page = client.get("/tf-validate", base_url="https://127.0.0.1")
    token = page.data.split(b'name="csrf_token" type="hidden" value="', 1)[1].split(b'"', 1)[0].decode()
    answer = client.post("/tf-validate", base_url="https://127.0.0.1",
                         headers={"Referer": "https://127.0.0.1/tf-validate"},
                         data={"code": code, "csrf_token": token})
    assert answer.status_code == 302, answer.status_code
    assert client.get("/", base_url="https://127.0.0.1").data == f"Hello {EMAIL}".encode()
    print("Flask-Security-Too: SMS two-factor login with password and code works")


if __name__ == "__main__" and sys.argv[1:] == ["setup"]:
    setup()
