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


def test_accounts_survive_every_migration_and_ids_are_never_reused(migration_app):
    """Rebuilding `users` (SQLite's way to alter a table) must not cascade into the tables that
    refer to it; and a deleted account's id must not go to the next one."""
    flask_migrate.upgrade(directory=MIGRATIONS, revision="6f1b0f0fce66")
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO users (username, username_key, password_hash, session_token, code_failures, created_at)"
            " VALUES ('alice', 'alice', 'x', 'token-a', 0, '2026-01-01'), ('bob', 'bob', 'x', 'token-b', 0, '2026-01-01')"))
        alice = conn.execute(sa.text("SELECT id FROM users WHERE username = 'alice'")).scalar_one()
        conn.execute(sa.text("INSERT INTO recovery_codes (user_id, code_hash, salt, created_at) VALUES (:u, 'h', 's', '2026-01-01')"), {"u": alice})
        conn.execute(sa.text("INSERT INTO security_events (user_id, kind, detail, ip, user_agent, created_at)"
                             " VALUES (:u, 'signed_up', '', '', '', '2026-01-01')"), {"u": alice})
    flask_migrate.upgrade(directory=MIGRATIONS)
    with db.engine.begin() as conn:
        counts = [conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                  for table in ("users", "recovery_codes", "security_events")]
        assert counts == [2, 1, 1]
        bob = conn.execute(sa.text("SELECT id FROM users WHERE username = 'bob'")).scalar_one()
        conn.execute(sa.text("DELETE FROM users WHERE id = :u"), {"u": bob})
        conn.execute(sa.text(
            "INSERT INTO users (username, username_key, password_hash, session_token, code_failures, created_at)"
            " VALUES ('carol', 'carol', 'x', 'token-c', 0, '2026-01-01')"))
        carol = conn.execute(sa.text("SELECT id FROM users WHERE username = 'carol'")).scalar_one()
    assert carol > bob
    assert schema_diff() == []


def test_phones_become_methods_and_come_back(migration_app):
    """Issue 17: every verified phone becomes a phone method, dated by the account's last 2FA event;
    downgrading puts the numbers back in users.phone. Counted on real rows, both ways."""
    flask_migrate.upgrade(directory=MIGRATIONS, revision="c4e5f6071829")
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO users (username, username_key, password_hash, phone, session_token, code_failures, created_at)"
            " VALUES ('alice', 'alice', 'x', '+447400123456', 'token-a', 0, '2026-01-01'),"
            " ('bob', 'bob', 'x', '+14155552671', 'token-b', 0, '2026-01-01'),"
            " ('carol', 'carol', 'x', NULL, 'token-c', 0, '2026-01-01')"))
        alice = conn.execute(sa.text("SELECT id FROM users WHERE username = 'alice'")).scalar_one()
        conn.execute(sa.text("INSERT INTO security_events (user_id, kind, detail, ip, user_agent, created_at)"
                             " VALUES (:u, '2fa_enabled', '', '', '', '2026-03-04 05:06:07')"), {"u": alice})
        conn.execute(sa.text("INSERT INTO recovery_codes (user_id, code_hash, salt, created_at)"
                             " VALUES (:u, 'h', 's', '2026-01-01')"), {"u": alice})
    flask_migrate.upgrade(directory=MIGRATIONS)
    with db.engine.begin() as conn:
        methods = conn.execute(sa.text(
            "SELECT users.username, kind, two_factor_methods.phone, two_factor_methods.created_at"
            " FROM two_factor_methods JOIN users ON users.id = user_id ORDER BY users.username")).all()
        assert [(m.username, m.kind, m.phone) for m in methods] == [
            ("alice", "phone", "+447400123456"), ("bob", "phone", "+14155552671")]
        assert str(methods[0].created_at).startswith("2026-03-04 05:06:07")
        assert conn.execute(sa.text("SELECT count(*) FROM recovery_codes")).scalar_one() == 1
        # An authenticator app has nowhere to go on the way down; the phones do.
        conn.execute(sa.text("INSERT INTO two_factor_methods (user_id, kind, name, created_at)"
                             " VALUES (:u, 'totp', 'Phone', '2026-05-01')"), {"u": alice})
    from app.models import User

    db.session.expire_all()
    assert User.by_username("alice").two_factor_enabled and User.by_username("alice").phone == "+447400123456"
    assert not User.by_username("carol").two_factor_enabled
    db.session.remove()

    flask_migrate.downgrade(directory=MIGRATIONS, revision="c4e5f6071829")
    assert "two_factor_methods" not in table_names()
    with db.engine.begin() as conn:
        phones = conn.execute(sa.text("SELECT username, phone FROM users ORDER BY username")).all()
    assert [tuple(row) for row in phones] == [("alice", "+447400123456"), ("bob", "+14155552671"), ("carol", None)]


def test_scrypt_hashes_of_a_deployed_database_become_argon2id_as_people_log_in(database_url):
    """Point 6 of the issue: accounts written before Argon2 (werkzeug's scrypt and pbkdf2 in the
    users table of a migrated database, as a deployed one holds them) log in with their passwords
    through the app; each login rewrites its own row as Argon2id, the others stay as they were."""
    from werkzeug.security import generate_password_hash

    from tests.conftest import AuthActions

    app = create_app(type("MigrationConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": database_url}))
    old = {"alice": generate_password_hash("alice's old phrase", method="scrypt:1024:8:1"),
           "bob": generate_password_hash("bob's old phrase", method="pbkdf2:sha256:1000"),
           "carol": generate_password_hash("carol's old phrase", method="scrypt:1024:8:1")}
    with logging_kept(), app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS)
        with db.engine.begin() as conn:
            for name, password_hash in old.items():
                conn.execute(sa.text(
                    "INSERT INTO users (username, username_key, password_hash, session_token, code_failures,"
                    " created_at) VALUES (:name, :name, :hash, :token, 0, '2026-01-01')"),
                    {"name": name, "hash": password_hash, "token": f"token-{name}"})

    def hashes():
        with app.app_context(), db.engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT username, password_hash FROM users")).all())

    try:
        for name in ("alice", "bob"):
            person = AuthActions(app.test_client(), None)
            assert person.login(name, password="not it").status_code == 401
            assert hashes()[name] == old[name]
            assert person.login(name, password=f"{name}'s old phrase").headers["Location"] == "/profile"
        now = hashes()
        assert now["alice"].startswith("$argon2id$v=19$m=8,t=1,p=1$") and now["bob"].startswith("$argon2id$")
        assert now["carol"] == old["carol"]  # not logged in yet: untouched
        for name in ("alice", "bob"):
            assert AuthActions(app.test_client(), None).login(name, password=f"{name}'s old phrase").status_code == 302
        assert hashes() == now  # made once
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
