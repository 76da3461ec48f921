"""`flask users ...`: what an operator needs without a browser."""
import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from app import accounts, encryption, events, methods
from app.extensions import db
from app.models import TwoFactorMethod, User
from app.password_rules import password_problem

users = AppGroup("users", help="Manage user accounts.")
encryption_keys = AppGroup("encryption", help="Manage the keys that encrypt secrets at rest (ENCRYPTION_KEYS).")


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
    problem = password_problem(password, username)
    if problem:
        raise click.ClickException(problem)
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


@users.command("methods")
@click.argument("username")
def list_methods(username):
    """List USERNAME's ways to log in (2FA methods), with the id `remove-method` takes."""
    user = existing_user(username)
    found = methods.methods_of(user)
    if not found:
        click.echo(f"{user.username} has no 2FA method.")
        return
    click.echo(f"{'ID':>6}  {'METHOD':40}  ADDED (UTC)       LAST USED (UTC)")
    for method in found:
        used = f"{method.last_used_at:%Y-%m-%d %H:%M}" if method.last_used_at else "never"
        click.echo(f"{method.id:>6}  {methods.describe(method)[:40]:40}  {method.created_at:%Y-%m-%d %H:%M}  {used}")


@users.command("remove-method")
@click.argument("username")
@click.argument("method_id", type=int, required=False)
@click.option("--all", "remove_all", is_flag=True, help="Remove every method: 2FA goes off, as with reset-2fa.")
def remove_method(username, method_id, remove_all):
    """Remove one of USERNAME's 2FA methods (by the id `methods` lists), or --all; their sessions end."""
    user = existing_user(username)
    if remove_all == (method_id is not None):
        raise click.ClickException("Give either a method id or --all.")
    found = {method.id: method for method in methods.methods_of(user)}
    if remove_all or (method_id in found and len(found) == 1):
        if not found:
            click.echo(f"{user.username} has no 2FA to reset.")
            return
        accounts.reset_two_factor(user)
        click.echo(f"2FA is off for {user.username}; their sessions are ended.")
        return
    if method_id not in found:
        raise click.ClickException(f"{user.username} has no method with id {method_id}.")
    what = methods.describe(found[method_id])
    user.remove_method(found[method_id])
    events.record(events.METHOD_REMOVED, user, detail=f"{what}, by an operator", commit=False)
    db.session.commit()
    current_app.session_interface.end_for_user(user.id)
    click.echo(f"Removed {what} from {user.username}; their sessions are ended.")


@encryption_keys.command("rotate-keys")
def rotate_keys():
    """Re-encrypt every secret at rest under the first of ENCRYPTION_KEYS (then the others can go)."""
    rows = db.session.scalars(sa.select(TwoFactorMethod).where(TwoFactorMethod.secret.is_not(None))).all()
    try:
        changed = encryption.rotate_all(rows, "secret")
    except encryption.Undecryptable as error:
        db.session.rollback()
        raise click.ClickException(f"Nothing was changed: {error}.") from None
    db.session.commit()
    click.echo(f"Re-encrypted {changed} of {len(rows)} secrets under the first key.")


@users.command("delete")
@click.argument("username")
@click.confirmation_option(prompt="Delete this user and all their data?")
def delete_user(username):
    """Delete USERNAME with their number, codes, devices and events."""
    user = existing_user(username)
    accounts.delete_account(user, detail="by an operator")
    click.echo(f"Deleted {username}.")


@users.command("set-password")
@click.argument("username")
def set_password(username):
    """Give USERNAME a new password (asked for twice): their sessions end, their remembered
    browsers are forgotten, and their email address, if any, gets a notice. 2FA stays as it is."""
    user = existing_user(username)
    password = click.prompt("New password", hide_input=True, confirmation_prompt="Repeat new password")
    if len(password) < 8:
        raise click.ClickException("The password must be at least 8 characters.")
    user.change_password(password)
    events.record(events.PASSWORD_RESET, user, detail="by an operator", commit=False)
    db.session.commit()
    current_app.session_interface.end_for_user(user.id)
    click.echo(f"{user.username} has a new password; their sessions are ended.")
