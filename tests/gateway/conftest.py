"""Real servers for the scale-out tests, started by the test session itself (``bench.scale.servers``): PostgreSQL
(the Debian binaries), Redis, and an S3 endpoint (moto's server mode). Each is started once, on a free loopback port,
when a test first asks for it, and stopped at the end of the session.

``HALLMARK_TEST_DATABASE=postgresql`` runs the database-touching tests against PostgreSQL: every test gets a fresh
database of its own through ``HALLMARK_DATABASE_URL`` (``scripts/test.sh`` runs those files once more that way)."""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Iterator

import pytest

# The project runs pytest with --import-mode=importlib, which puts no directory on sys.path; the launchers live
# with the scale-out bench, which starts the same servers.
_ROOT = str(pathlib.Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from bench.scale.servers import (  # noqa: E402
    PostgresServer,
    S3Server,
    ServerUnavailable,
    start_postgres,
    start_redis,
    start_s3,
)


def _started(start):
    try:
        return start()
    except ServerUnavailable as exc:
        pytest.skip(f"{exc}; scripts/test.sh installs it")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server, stop = _started(start_postgres)
    try:
        yield server
    finally:
        stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh PostgreSQL database for one test."""
    return postgres_server.create_database()


def _postgres_mode() -> bool:
    return os.environ.get("HALLMARK_TEST_DATABASE", "sqlite") == "postgresql"


@pytest.fixture(scope="session", autouse=True)
def _session_database(request) -> Iterator[None]:
    """PostgreSQL mode: the session's shared gateway (and the commands its tests run on its data directory) use one
    database for the whole session; other tests get a fresh one each (``_database_under_test``)."""
    if not _postgres_mode():
        yield
        return
    mp = pytest.MonkeyPatch()
    mp.setenv("HALLMARK_DATABASE_URL", request.getfixturevalue("postgres_server").create_database())
    mp.setenv("HALLMARK_DEPLOYMENT", "single")  # one process on a server database: its own development keys
    try:
        yield
    finally:
        mp.undo()


@pytest.fixture(autouse=True)
def _database_under_test(request, monkeypatch) -> None:
    """With HALLMARK_TEST_DATABASE=postgresql, each test's gateway uses a fresh PostgreSQL database (those using
    the session's shared ``gateway`` keep the session's)."""
    if not _postgres_mode() or "gateway" in request.fixturenames:
        return
    monkeypatch.setenv("HALLMARK_DATABASE_URL", request.getfixturevalue("postgres_server").create_database())


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url, stop = _started(start_redis)
    try:
        yield url
    finally:
        stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server, stop = _started(start_s3)
    try:
        yield server
    finally:
        stop()
