"""`flask users ...`: what an operator needs without a browser."""
import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app import events
from app import accounts
from app.extensions import db
from app.models import User

users = AppGroup("users", help="Manage user accounts.")


def existing_user(username):
    user = User.by_username(username)
    if user is None:
        raise click.ClickException(f"No user named {username!r}.")
    return user


@users.command("create")
@click.argument("username")
def create_user(username):
    """Create USERNAME; the password is asked for, never taken from the command line."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat password")
    username = username.strip()
    if not 3 <= len(username) <= 32:
        raise click.ClickException("The username must be 3 to 32 characters.")
    if len(password) < 8:
        raise click.ClickException("The password must be at least 8 characters.")
    if User.by_username(username) is not None:
        raise click.ClickException(f"The username {username!r} is taken.")
    user = User()
    user.set_username(username)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    events.record(events.SIGNED_UP, user, detail="created by an operator")
    click.echo(f"Created {user.username}.")


@users.command("list")
def list_users():
    """List every user with their 2FA state and creation date."""
    rows = db.session.scalars(sa.select(User).order_by(User.username_key)).all()
    click.echo(f"{'USERNAME':32}  2FA  CREATED (UTC)")
    for user in rows:
        state = "on " if user.two_factor_enabled else "off"
        click.echo(f"{user.username:32}  {state}  {user.created_at:%Y-%m-%d %H:%M}")


@users.command("reset-2fa")
@click.argument("username")
def reset_two_factor(username):
    """Turn USERNAME's 2FA off: number, recovery codes and remembered browsers go; sessions end."""
    user = existing_user(username)
    if not user.two_factor_enabled:
        click.echo(f"{user.username} has no 2FA to reset.")
        return
    accounts.reset_two_factor(user)
    click.echo(f"2FA is off for {user.username}; their sessions are ended.")


@users.command("delete")
@click.argument("username")
@click.confirmation_option(prompt="Delete this user and all their data?")
def delete_user(username):
    """Delete USERNAME with their number, codes, devices and events."""
    user = existing_user(username)
    accounts.delete_account(user, detail="by an operator")
    click.echo(f"Deleted {username}.")
