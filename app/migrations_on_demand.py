"""Flask-Migrate, loaded when `flask db ...` (or Alembic's env.py) first needs it.

Flask-Migrate brings Alembic, Mako and Pygments, about 11 MB in every process that imports it; a
worker serving requests never runs a migration, so it never imports them. Until then the app holds
two stand-ins: the `db` command group, and `app.extensions["migrate"]` (read by migrations/env.py
and Flask-Migrate's functions), each of which sets up the real one on first use.
"""
import click


def load(app):
    """Sets up Flask-Migrate for `app` (once); returns its `db` command group."""
    from flask_migrate import Migrate
    from flask_migrate.cli import db as commands

    from app.extensions import db

    if not isinstance(app.extensions.get("migrate"), ExtensionStandIn):
        return commands
    Migrate().init_app(app, db)  # puts the real config in app.extensions and its group in app.cli
    return commands


class CommandsStandIn(click.Command):
    """`flask db ...`: hands everything after `db` (options and `--help` included) to Flask-Migrate."""

    def __init__(self, app):
        super().__init__("db", help="Perform database migrations.", add_help_option=False,
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
        self.app = app

    def invoke(self, ctx):
        commands = load(self.app)
        return commands.main(args=ctx.args, prog_name=ctx.command_path, obj=ctx.obj, standalone_mode=False)


class ExtensionStandIn:
    def __init__(self, app):
        self._app = app

    def __getattr__(self, name):
        load(self._app)
        return getattr(self._app.extensions["migrate"], name)


def init_app(app):
    app.extensions["migrate"] = ExtensionStandIn(app)
    app.cli.add_command(CommandsStandIn(app))
