"""`flask mail send-queued`: deliver the outbox from a process of its own."""
import time

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db
from app.mail import outbox

mail = AppGroup("mail", help="Deliver queued mail.")


@mail.command("send-queued")
@click.option("--watch", is_flag=True, help="Keep running: deliver mail as it comes (with MAIL_DELIVERY_THREAD=0).")
def send_queued(watch):
    """Deliver every mail that is due; with --watch, keep doing it."""
    if not current_app.extensions.get("mail_enabled"):
        raise click.ClickException("Mail is off (MAIL_DISABLED=1, or no MAIL_SERVER in production).")
    while True:
        sent = outbox.send_queued()
        waiting, failing, given_up = outbox.counts()
        db.session.remove()
        if not watch:
            click.echo(f"Delivered {sent}. Waiting: {waiting} ({failing} to be tried again). Given up: {given_up}.")
            return
        if sent:
            click.echo(f"Delivered {sent}.")
        time.sleep(min(current_app.config["MAIL_POLL_SECONDS"], 5))
