"""Real servers on loopback for the scale-out tests and bench: PostgreSQL (Debian's binaries; as root through
``runuser -u postgres``, since initdb and the server refuse root), Redis, and an S3 endpoint (moto's server mode: no
S3 server package installs here). Each ``start_*`` returns the server and a function that stops it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("HALLMARK_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class ServerUnavailable(RuntimeError):
    """The server's program is not installed here (scripts/test.sh installs it)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


@dataclass
class PostgresServer:
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"hm_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def start_postgres() -> tuple[PostgresServer, Callable[[], None]]:
    if not (PG_BIN / "initdb").exists():
        raise ServerUnavailable(f"PostgreSQL binaries not found in {PG_BIN} (Debian package postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="hallmark-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                 "--no-sync"]), check=True, stdout=subprocess.DEVNULL)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
                                 "-o", options, "start"]), check=True, stdout=subprocess.DEVNULL)

    def stop() -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)

    return PostgresServer(port=port), stop


def start_redis() -> tuple[str, Callable[[], None]]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerUnavailable("redis-server not installed (Debian package redis-server)")
    root = Path(tempfile.mkdtemp(prefix="hallmark-redis-"))
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop() -> None:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)

    try:
        wait_port(port, 15, proc)
    except BaseException:
        stop()
        raise
    return f"redis://127.0.0.1:{port}/0", stop


@dataclass
class S3Server:
    endpoint_url: str
    bucket: str

    def env(self) -> dict[str, str]:
        """The standard AWS settings boto3 reads, pointing at this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def start_s3(bucket: str = "hallmark-test") -> tuple[S3Server, Callable[[], None]]:
    """moto's S3 server (an emulator) with one bucket."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop() -> None:
        proc.terminate()
        proc.wait(10)

    try:
        wait_port(port, 60, proc)
        server = S3Server(endpoint_url=f"http://127.0.0.1:{port}", bucket=bucket)
        import boto3

        env = server.env()
        boto3.client("s3", endpoint_url=server.endpoint_url, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                     region_name=env["AWS_DEFAULT_REGION"]).create_bucket(Bucket=bucket)
    except BaseException:
        stop()
        raise
    return server, stop


def shared_identity(directory: Path) -> dict[str, str]:
    """One identity for every node, from files (what a distributed deployment requires): a CA and its signer, the
    audit checkpoint key and the prompt keys; returns the settings that name them."""
    from gateway.audit.checkpoint import CheckpointSigner
    from gateway.audit.prompts import PromptVault
    from gateway.provenance import ensure_dev_ca

    ensure_dev_ca(directory, organization="Hallmark Scale Out")
    CheckpointSigner.load_or_create(directory / "audit.key", "hallmark.local/audit")
    PromptVault(directory / "prompts.json").ensure()
    return {
        "HALLMARK_SIGNING_CERT_CHAIN": str(directory / "dev-signer.pem"),
        "HALLMARK_SIGNING_KEY": str(directory / "dev-signer.key"),
        "HALLMARK_TRUST_ANCHORS": str(directory / "dev-root-ca.pem"),
        "HALLMARK_TRUST_DEV_ROOT": "false",
        "HALLMARK_AUDIT_KEY_FILE": str(directory / "audit.key"),
        "HALLMARK_AUDIT_PROMPT_KEYS_FILE": str(directory / "prompts.json"),
    }
