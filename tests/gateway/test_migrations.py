"""Schema migrations: the models and the migrations' head agree; a database made by the release before migrations
(kept in fixtures/) upgrades in place, on SQLite and on PostgreSQL, with every record intact and the audit log
still verifying; a server refuses a database that is behind, naming the command to run."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, func, insert, select

from gateway.store import schema
from gateway.store.db import Base, Database

FIXTURE = Path(__file__).with_name("fixtures") / "release1-data.tar.gz"
# What the release-1 fixture holds (tests/gateway/fixtures/make_release1.py made it).
RELEASE1_COUNTS = {"videos": 4, "registry": 2, "registered_works": 1, "public_feedback": 1, "api_keys": 1,
                   "audit_entries": 21, "audit_checkpoints": 1}


def _hallmark(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "HALLMARK_DATABASE_URL"}  # each test names its database
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=300,
                          env=base | (env or {}))


def _release1(tmp_path: Path) -> Path:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "hallmark-data"


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine, only=list(RELEASE1_COUNTS))
    with engine.connect() as conn:
        counts = {name: conn.scalar(select(func.count()).select_from(meta.tables[name])) for name in RELEASE1_COUNTS}
    engine.dispose()
    return counts


def _drift(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    return diff


def _migrate_empty(url: str) -> None:
    """Run every migration script on an empty database (not the create-from-models shortcut)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "head")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("postgres_url")


def test_models_and_migration_head_agree(empty_url):
    """A new model or column needs a migration: if this fails, write one (README "Scale out": upgrading)."""
    _migrate_empty(empty_url)
    assert _drift(empty_url) == []


def test_a_new_database_is_made_at_the_head(empty_url):
    db = Database(empty_url)
    assert schema.current(db.engine) == schema.head_revision()
    db.dispose()
    Database(empty_url).dispose()  # a second start finds it at the head


def test_release1_sqlite_database_upgrades_in_place(tmp_path):
    data = _release1(tmp_path)
    url = f"sqlite:///{data / 'hallmark.db'}"
    before = _counts(url)
    assert before == RELEASE1_COUNTS

    refused = _hallmark("jobs", "purge-prompts", "--data-dir", str(data))
    assert refused.returncode == 2
    assert "hallmark db upgrade" in refused.stderr and "Traceback" not in refused.stderr
    assert _hallmark("db", "current", "--data-dir", str(data)).returncode == 1

    upgraded = _hallmark("db", "upgrade", "--data-dir", str(data))
    assert upgraded.returncode == 0, upgraded.stderr
    assert schema.head_revision() in upgraded.stdout
    current = _hallmark("db", "current", "--data-dir", str(data))
    assert current.returncode == 0 and f"database: {schema.head_revision()}" in current.stdout
    assert _counts(url) == before

    verified = _hallmark("audit", "verify", "--data-dir", str(data))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact: 21 entries" in verified.stdout
    # The registry still recognises what the old release generated.
    video = sorted((data / "media").glob("*.mp4"))[0]
    check = _hallmark("verify", "--json", str(video), "--data-dir", str(data))
    # (not the exit code: the fixture's one-year development certificate expires in 2027-12, and with it the
    # file's credentials, while the registry and the watermark keep recognising it)
    assert '"generated_by_this_gateway": true' in check.stdout, check.stdout + check.stderr
    assert _hallmark("db", "upgrade", "--data-dir", str(data)).stdout.startswith("already at revision")


def test_release1_postgresql_database_upgrades_in_place(tmp_path, postgres_url):
    """The same data in PostgreSQL at the release-1 schema (revision 0001), upgraded by the command."""
    data = _release1(tmp_path)
    source = create_engine(f"sqlite:///{data / 'hallmark.db'}")
    target = create_engine(postgres_url)
    with target.begin() as conn:
        command.upgrade(schema.alembic_config(conn), schema.RELEASE1)
        conn.exec_driver_sql("DROP TABLE alembic_version")  # as a release-1 database: no revision table
    meta, into = MetaData(), MetaData()
    meta.reflect(source)
    into.reflect(target)
    with source.connect() as src, target.begin() as dst:
        for table in meta.sorted_tables:
            rows = [dict(row._mapping) for row in src.execute(select(table))]
            if rows:
                dst.execute(insert(into.tables[table.name]), rows)
    source.dispose()
    target.dispose()
    env = {"HALLMARK_DATABASE_URL": postgres_url, "HALLMARK_DEPLOYMENT": "single"}  # the fixture's own dev keys
    refused = _hallmark("jobs", "purge-prompts", "--data-dir", str(data), env=env)
    assert refused.returncode == 2 and "hallmark db upgrade" in refused.stderr

    upgraded = _hallmark("db", "upgrade", "--data-dir", str(data), env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert _counts(postgres_url) == RELEASE1_COUNTS
    verified = _hallmark("audit", "verify", "--data-dir", str(data), env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    video = sorted((data / "media").glob("*.mp4"))[0]
    check = _hallmark("verify", "--json", str(video), "--data-dir", str(data), env=env)
    assert '"generated_by_this_gateway": true' in check.stdout, check.stdout + check.stderr
