"""``hallmark db``: the database schema's revision (Alembic migrations shipped in the package)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..store import schema
from ..store.db import Base, Database
from .common import DataDir, console, fail, settings_for

db_app = typer.Typer(help="The database schema: upgrade, current revision.", no_args_is_help=True)


def _open(data_dir: Optional[Path]) -> Database:
    settings = settings_for(data_dir)
    settings.ensure_dirs()
    return Database(settings.resolved_database_url, prepare=False)


@db_app.command("upgrade")
def upgrade(revision: str = typer.Option("head", help="Target revision."),
            data_dir: Optional[Path] = DataDir) -> None:
    """Bring the database (HALLMARK_DATABASE_URL, or the data directory's SQLite file) to the schema this release
    needs, keeping every record. Run it once, from one node, before starting upgraded servers and workers."""
    db = _open(data_dir)
    try:
        before, after = schema.upgrade(db.engine, Base.metadata, revision)
    except Exception as exc:  # a failed migration is rolled back (one transaction); say why, not how
        raise fail(f"the upgrade failed and was rolled back: {type(exc).__name__}: {exc}")
    finally:
        db.dispose()
    if before == after:
        console.print(f"already at revision {after}")
    else:
        console.print(f"upgraded from {before or 'the release without migrations'} to revision {after}")


@db_app.command("current")
def current(data_dir: Optional[Path] = DataDir) -> None:
    """Print the database's schema revision and the one this release needs; exit 1 when they differ."""
    db = _open(data_dir)
    try:
        found = schema.current(db.engine)
    finally:
        db.dispose()
    head = schema.head_revision()
    console.print(f"database: {found or 'none (made before migrations, or empty)'}\nthis release: {head}")
    if found != head:
        raise typer.Exit(1)


@db_app.command("revision")
def revision(message: str = typer.Option(..., "-m", "--message", help="What the migration does.")) -> None:
    """For developers: write the next migration from what the models add over the head revision (Alembic
    autogenerate); review the script, then commit it beside the model change."""
    console.print(f"wrote {schema.new_revision(message)}")
