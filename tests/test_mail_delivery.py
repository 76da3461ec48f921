"""Delivery that doesn't block, leak or lose: the outbox against a real SMTP server (aiosmtpd on
127.0.0.1), the delivery thread, `flask mail send-queued`, and the development console."""
import logging
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from app.extensions import db
from app.mail import outbox
from app.models import QueuedMail, utcnow
from tests.conftest import build_app, dispose_app, make_config, postgres_url
from tests.mail_support import SMTPServer, deliver, smtp_settings
from tests.support import text

ADDRESS = "alice@example.test"


@pytest.fixture
def smtp():
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's own chatter
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def app_overrides(request, smtp):
    """The app's mail goes to this module's SMTP server; `app_settings` markers still apply."""
    settings = smtp_settings(smtp)
    for marker in reversed(list(request.node.iter_markers("app_settings"))):
        settings.update(marker.kwargs)
    return settings


def sign_up_with_email(auth, username="alice", address=ADDRESS):
    response = auth.post("/auth/register", {"username": username, "password": "correct horse battery",
                                            "password2": "correct horse battery", "email": address})
    assert response.status_code == 302, text(response)
    return response


def rows(app):
    with app.app_context():
        return db.session.execute(sa.select(QueuedMail).order_by(QueuedMail.id)).scalars().all()


def test_a_mail_goes_by_smtp_and_leaves_no_address_or_body_behind(app, auth, smtp):
    sign_up_with_email(auth)
    assert smtp.messages == [], "nothing is sent inside the request"
    assert deliver(app) == 1
    [mail] = smtp.mails()
    assert mail.to == [ADDRESS]
    assert mail.subject == "Confirm your email address"
    assert mail.headers["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert mail.headers["Auto-Submitted"] == "auto-generated"
    assert mail.link_path("/auth/confirm-email").startswith("/auth/confirm-email?token=")
    assert "Confirm my email address" in mail.html
    [row] = rows(app)
    assert row.sent_at is not None and row.next_attempt_at is None and row.attempts == 1
    assert (row.to_address, row.subject, row.text, row.html) == ("", "", "", ""), "the link is gone from the database"
    assert deliver(app) == 0, "delivered once"


def test_a_server_that_was_down_gets_the_mail_later_with_a_growing_wait(app, auth, smtp, caplog):
    smtp.stop()
    sign_up_with_email(auth)
    caplog.set_level(logging.INFO)
    start = utcnow()
    assert deliver(app, now=start) == 0
    [row] = rows(app)
    assert row.attempts == 1 and row.sent_at is None
    assert timedelta(seconds=29) <= row.next_attempt_at - start <= timedelta(seconds=31)
    assert row.last_error.startswith("ConnectionRefusedError") and "@" not in row.last_error
    assert len(row.last_error) <= 200
    assert deliver(app, now=start + timedelta(seconds=10)) == 0, "not due yet"
    assert deliver(app, now=start + timedelta(seconds=31)) == 0, "still down"
    [row] = rows(app)
    assert row.attempts == 2
    assert timedelta(seconds=59) <= row.next_attempt_at - (start + timedelta(seconds=31)) <= timedelta(seconds=61)

    smtp.start()
    assert deliver(app, now=start + timedelta(seconds=95)) == 1
    [mail] = smtp.mails()
    assert mail.subject == "Confirm your email address"
    assert rows(app)[0].attempts == 3
    app_log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("app"))
    assert "not delivered" in app_log and ADDRESS not in app_log and "token" not in app_log


def test_a_mailbox_the_server_refuses_for_good_is_given_up_at_once(app, auth, smtp):
    smtp.refuse = True
    sign_up_with_email(auth)
    assert deliver(app) == 0
    [row] = rows(app)
    assert row.next_attempt_at is None and row.sent_at is None
    assert row.to_address == "" and row.text == "" and row.html == ""
    assert row.last_error.startswith("SMTPRecipientsRefused") and "@" not in row.last_error
    assert "[address]" in row.last_error


def test_mail_not_delivered_for_three_days_is_given_up(app, auth, smtp, caplog):
    smtp.stop()
    sign_up_with_email(auth)
    assert deliver(app, now=utcnow() + timedelta(days=3, minutes=1)) == 0
    assert "Mail 1 given up after 1 attempts: ConnectionRefusedError" in caplog.text
    assert rows(app) == [], "given up, and (older than a day) deleted in the same pass"


def test_a_claim_takes_each_mail_once(app, auth):
    sign_up_with_email(auth)
    now = utcnow()
    with app.app_context():
        first, second = outbox.claim(now), outbox.claim(now)
        assert len(first) == 1 and second == []
        assert outbox.claim(now + outbox.LEASE + timedelta(seconds=1)) != [], (
            "a claim whose process died is taken again after the lease")


@pytest.fixture
def file_database(tmp_path):
    return postgres_url() or f"sqlite:///{tmp_path / 'mail.db'}"


def test_two_processes_draining_at_once_send_each_mail_once(fake, smtp, file_database):
    from app import create_app

    config = make_config(fake, SQLALCHEMY_DATABASE_URI=file_database, **smtp_settings(smtp))
    apps = [build_app(config), create_app(config)]  # two processes on one database
    try:
        with apps[0].app_context():
            for n in range(30):
                outbox.queue(f"person{n}@example.test", f"Mail {n}", "text", "<p>html</p>")
            db.session.commit()
        barrier = threading.Barrier(4)
        counts = []

        def drain(app):
            barrier.wait()
            counts.append(deliver(app))

        threads = [threading.Thread(target=drain, args=(apps[i % 2],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        subjects = [mail.subject for mail in smtp.mails()]
        assert sum(counts) == 30 and len(subjects) == 30 and len(set(subjects)) == 30, (counts, sorted(subjects))
    finally:
        with apps[1].app_context():
            db.session.remove()
            db.engine.dispose()
        dispose_app(apps[0])


def test_a_slow_mail_server_delays_no_page_and_the_thread_delivers(fake, smtp, file_database):
    smtp.delay = 2.0
    app = build_app(make_config(fake, SQLALCHEMY_DATABASE_URI=file_database, MAIL_DELIVERY_THREAD=True,
                                **smtp_settings(smtp)))
    delivery = app.extensions["mail_delivery"]
    try:
        assert delivery.thread is None, "started by the first request, not by create_app"
        from tests.conftest import AuthActions

        auth = AuthActions(app.test_client(), fake)
        started = time.monotonic()
        sign_up_with_email(auth)
        page = auth.client.get("/profile")
        took = time.monotonic() - started
        assert page.status_code == 200 and took < 1.5, f"the pages took {took:.2f} s with a slow mail server"
        assert delivery.thread.is_alive()
        [mail] = smtp.wait_for(1, timeout=10)
        assert mail.subject == "Confirm your email address"
    finally:
        delivery.stop()
        dispose_app(app)


def test_mail_left_by_a_stopped_process_is_sent_by_the_next_ones_thread(fake, smtp, file_database):
    smtp.stop()
    first = build_app(make_config(fake, SQLALCHEMY_DATABASE_URI=file_database, **smtp_settings(smtp)))
    from tests.conftest import AuthActions

    sign_up_with_email(AuthActions(first.test_client(), fake))
    assert deliver(first) == 0  # the server is down: it waits
    with first.app_context():
        db.session.remove()
        db.engine.dispose()
    # The next process (a restarted worker) on the same database, with the server back.
    smtp.start()
    from app import create_app

    second = create_app(make_config(fake, SQLALCHEMY_DATABASE_URI=file_database, MAIL_DELIVERY_THREAD=True,
                                    **smtp_settings(smtp)))
    delivery = second.extensions["mail_delivery"]
    try:
        with second.app_context():  # as if the retry's wait had passed
            db.session.execute(sa.update(QueuedMail).values(next_attempt_at=utcnow()))
            db.session.commit()
        assert second.test_client().get("/auth/login").status_code == 200
        [mail] = smtp.wait_for(1, timeout=10)
        assert mail.to == [ADDRESS]
    finally:
        delivery.stop()
        dispose_app(second)


def test_flask_mail_send_queued_delivers_and_says_what_waits(app, auth, smtp):
    sign_up_with_email(auth)
    result = app.test_cli_runner().invoke(args=["mail", "send-queued"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Delivered 1. Waiting: 0 (0 to be tried again). Given up: 0."
    assert len(smtp.mails()) == 1
    smtp.stop()
    auth.post("/profile/email/cancel", form_url="/profile")
    sign_up_with_email(auth.__class__(app.test_client(), auth.fake), "bob", "bob@example.test")
    result = app.test_cli_runner().invoke(args=["mail", "send-queued"])
    assert result.output.strip() == "Delivered 0. Waiting: 1 (1 to be tried again). Given up: 0."


@pytest.mark.app_settings(MAIL_DISABLED=True)
def test_flask_mail_send_queued_says_when_mail_is_off(app):
    result = app.test_cli_runner().invoke(args=["mail", "send-queued"])
    assert result.exit_code != 0 and "Mail is off" in result.output


def test_development_writes_each_mail_to_the_log_with_the_address_masked(fake, caplog):
    config = make_config(fake, ENV_NAME="development", MAIL_SERVER=None)
    app = build_app(config)
    try:
        assert app.config["MAIL_BACKEND"] == "app.mail.console"
        from tests.conftest import AuthActions

        sign_up_with_email(AuthActions(app.test_client(), fake))
        caplog.set_level(logging.INFO)
        assert deliver(app) == 1
        [entry] = [r for r in caplog.records if r.name == "app.mail.console"]
        assert entry.levelno == logging.WARNING
        message = entry.getMessage()
        assert message.startswith("DEVELOPMENT MAIL to a•••@e•••.test: Confirm your email address\n")
        assert "/auth/confirm-email?token=" in message, "the link is the point of the console in development"
        assert ADDRESS not in caplog.text
    finally:
        dispose_app(app)


@pytest.mark.parametrize("settings, backend", [
    ({"MAIL_SERVER": "smtp.example.test"}, "smtp"),
    ({"MAIL_SERVER": None}, "locmem"),
    ({"MAIL_SERVER": "smtp.example.test", "MAIL_DISABLED": True}, None),
])
def test_which_backend_delivers(fake, settings, backend):
    app = build_app(make_config(fake, **settings))
    try:
        assert app.config["MAIL_BACKEND"] == backend
    finally:
        dispose_app(app)


def test_time_machine_and_outbox_agree_on_time(app, auth, smtp):
    """The delivery pass reads the same clock as the rest of the app (time-machine moves both)."""
    smtp.stop()
    sign_up_with_email(auth)
    with time_machine.travel(utcnow(), tick=True):
        assert deliver(app) == 0
    smtp.start()
    with time_machine.travel(utcnow() + timedelta(minutes=1), tick=True):
        assert deliver(app) == 1
