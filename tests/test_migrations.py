"""The migrations: upgrade from empty, downgrade to nothing, upgrade again, and match the models.

Runs on a temporary SQLite file, and on a fresh PostgreSQL database when TEST_DATABASE_URL names
one. Uses Flask-Migrate's Python API, as `flask db upgrade` does on deploy.
"""
import logging
from contextlib import contextmanager
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from app.extensions import db
from config import TestingConfig

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


@contextmanager
def logging_kept():
    """Alembic's env.py runs logging.fileConfig, which disables every logger it doesn't name and
    replaces the root handlers; put everything back so later tests still see their log lines."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = {name: (lg.disabled, lg.level) for name, lg in logging.Logger.manager.loggerDict.items()
               if isinstance(lg, logging.Logger)}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lg in logging.Logger.manager.loggerDict.items():
            if isinstance(lg, logging.Logger):
                lg.disabled, lg.level = loggers.get(name, (False, logging.NOTSET))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    return request.getfixturevalue("fresh_postgres_database")()


@pytest.fixture
def migration_app(database_url):
    config = type("MigrationConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": database_url})
    app = create_app(config)
    with logging_kept(), app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def table_names():
    return set(sa.inspect(db.engine).get_table_names())


def model_tables():
    return set(db.metadata.tables)


def current_revision():
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_diff():
    """What `flask db migrate` would generate: empty when the models match the migrations."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def head_revision():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(flask_migrate.Migrate().get_config(MIGRATIONS)).get_current_head()


def test_upgrade_downgrade_upgrade_and_models_match(migration_app):
    assert table_names() == set()

    flask_migrate.upgrade(directory=MIGRATIONS)
    assert table_names() == model_tables() | {"alembic_version"}
    assert current_revision() == head_revision()
    assert schema_diff() == []

    flask_migrate.downgrade(directory=MIGRATIONS, revision="base")
    assert table_names() == {"alembic_version"}
    assert current_revision() is None

    flask_migrate.upgrade(directory=MIGRATIONS)
    assert table_names() == model_tables() | {"alembic_version"}
    assert current_revision() == head_revision()
    assert schema_diff() == []


def test_migrated_schema_serves_the_app(migration_app):
    """A user written through the models after `upgrade` reads back: the columns are usable."""
    from app.models import SecurityEvent, User

    flask_migrate.upgrade(directory=MIGRATIONS)
    user = User()
    user.set_username("Migrated")
    user.set_password("correct horse battery")
    db.session.add(user)
    db.session.commit()
    db.session.add(SecurityEvent(user_id=user.id, kind="signed_up"))
    db.session.commit()
    db.session.expire_all()
    found = User.by_username("migrated")
    assert found is not None and found.check_password("correct horse battery")
    assert found.created_at.tzinfo is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SecurityEvent)) == 1
    db.session.delete(found)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SecurityEvent)) == 0
