"""The schema's revision: Alembic, configured in code (the scripts ship inside the package, no alembic.ini).

A new, empty database is created from the models and stamped at the head revision (what Alembic's cookbook
recommends; the migrations test keeps the two identical). Any other database must already be at the head: a server
refuses one that is behind (or ahead of) its code and names the command that upgrades it, ``hallmark db upgrade``.
A database made before migrations existed (it has the tables, no ``alembic_version``) is the first revision's
schema, so an upgrade stamps it there first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")
RELEASE1 = "0001"  # the schema of the last release without migrations
UPGRADE_COMMAND = "hallmark db upgrade"
# pg_advisory_lock key for schema changes ("hmschema" as an integer): one process migrates or creates at a time.
_SCHEMA_LOCK = 0x686D736368656D61


class SchemaError(Exception):
    """The database's schema revision is not the one this code needs (the message says what to run)."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _is_empty(connection: Connection) -> bool:
    return not inspect(connection).get_table_names()


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the schema lock (PostgreSQL: a transaction-scoped advisory lock,
    so two replicas starting on an empty database do not both create it; SQLite: its write lock, taken by the DDL)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK - (1 << 63)})
        yield connection


def prepare(engine: Engine, metadata) -> None:
    """At start: create an empty database at the head revision, or check that an existing one is at it."""
    head = head_revision()
    with _schema_lock(engine) as connection:
        if _is_empty(connection):
            metadata.create_all(connection)
            command.stamp(alembic_config(connection), head)
            return
        current = current_revision(connection)
    if current == head:
        return
    where = engine.url.render_as_string(hide_password=True)
    if current is None:
        raise SchemaError(f"The database at {where} was made by a release without schema migrations; "
                          f"run `{UPGRADE_COMMAND}` (it keeps every record) and start again.")
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current not in known:
        raise SchemaError(f"The database at {where} is at schema revision {current}, which this release does not "
                          f"know (it needs {head}): it was upgraded by a newer release. Run that release.")
    raise SchemaError(f"The database at {where} is at schema revision {current}; this release needs {head}. "
                      f"Run `{UPGRADE_COMMAND}` and start again.")


def upgrade(engine: Engine, metadata, revision: str = "head") -> tuple[str | None, str]:
    """Bring the database to ``revision``; returns (revision before, revision after). An empty database is
    created from the models; one made before migrations is stamped at the first revision, then upgraded."""
    with _schema_lock(engine) as connection:
        if _is_empty(connection):
            metadata.create_all(connection)
            command.stamp(alembic_config(connection), head_revision())
            return None, current_revision(connection)
        before = current_revision(connection)
        if before is None:
            command.stamp(alembic_config(connection), RELEASE1)
        command.upgrade(alembic_config(connection), revision)
        return before, current_revision(connection)


def new_revision(message: str) -> str:
    """For developers: write the next migration script with what the models add over the head revision, found by
    Alembic's autogenerate against a scratch SQLite database migrated to the head; returns the script's path.
    Read it before committing: autogenerate does not see renames, and data changes are for you to add."""
    import tempfile

    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/scratch.db")
        try:
            with engine.begin() as connection:
                config = alembic_config(connection)
                command.upgrade(config, "head")
                following = f"{int(head_revision()) + 1:04d}"
                script = command.revision(config, message=message, autogenerate=True, rev_id=following)
        finally:
            engine.dispose()
    return script.path


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return current_revision(connection)


__all__ = ["RELEASE1", "SchemaError", "alembic_config", "current", "head_revision", "new_revision", "prepare",
           "upgrade"]
