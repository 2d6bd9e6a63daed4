"""Asset storage (videos, thumbnails, reference images) by name: the protocol the services use, and the local-files
implementation of the embedded deployment. Names are flat (no folders), so a store can map them to anything."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

# Downloads are sent in pieces of this size, so a large video never has to sit whole in the API's memory.
STREAM_CHUNK = 1024 * 1024


class AssetStore(Protocol):
    def put(self, name: str, data: bytes) -> None: ...

    def get(self, name: str) -> bytes: ...

    def stream(self, name: str) -> Iterator[bytes]:
        """The asset in pieces (FileNotFoundError, raised before the first piece, when it is not there)."""

    def exists(self, name: str) -> bool: ...

    def delete(self, name: str) -> None: ...

    def download_url(self, name: str) -> str | None:
        """A URL a client may fetch the asset from directly (a presigned S3 URL), or None: serve it yourself."""


class LocalAssetStore:
    """Files under one directory; writes are atomic (temp file, fsync, rename), so a crash never leaves half a file
    under a real name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # files are mkstemp's 0600, kept by the rename

    def _path(self, name: str) -> Path:
        if "/" in name or name.startswith("."):
            raise ValueError(f"invalid asset name {name!r}")
        return self.root / name

    def put(self, name: str, data: bytes) -> None:
        target = self._path(name)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def stream(self, name: str) -> Iterator[bytes]:
        handle = self._path(name).open("rb")  # opened now: a missing file fails here, not mid-response

        def pieces() -> Iterator[bytes]:
            with handle:
                while piece := handle.read(STREAM_CHUNK):
                    yield piece

        return pieces()

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def download_url(self, name: str) -> str | None:
        return None


class S3AssetStore:
    """Objects under ``s3://bucket/prefix`` through boto3, which reads the standard AWS settings (``AWS_ENDPOINT_URL``
    for an S3-compatible server, credentials, ``AWS_DEFAULT_REGION``), so every node of a deployment shares the
    media. A PUT is atomic in S3: a reader sees the whole object or none."""

    def __init__(self, url: str, client=None, *, presign_seconds: int = 0) -> None:
        """``presign_seconds``: answer ``download_url`` with presigned GET URLs valid this long (0: never)."""
        from urllib.parse import urlparse

        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"HALLMARK_STORAGE_URL {url!r} is not s3://bucket[/prefix]")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.presign_seconds = presign_seconds
        if client is None:
            import boto3

            client = boto3.client("s3")
        self._client = client

    def _key(self, name: str) -> str:
        if "/" in name or name.startswith("."):
            raise ValueError(f"invalid asset name {name!r}")
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, name: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self._key(name), Body=data)

    def get(self, name: str) -> bytes:
        with self._object(name) as body:
            return body.read()

    def stream(self, name: str) -> Iterator[bytes]:
        body = self._object(name)

        def pieces() -> Iterator[bytes]:
            with body:
                yield from body.iter_chunks(STREAM_CHUNK)

        return pieces()

    def _object(self, name: str):
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
        except self._client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(name) from exc

    def exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, name: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(name))  # no error when it is absent

    def download_url(self, name: str) -> str | None:
        if not self.presign_seconds:
            return None
        return self._client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self._key(name)},
                                                   ExpiresIn=self.presign_seconds)

    def check(self) -> None:
        """Fail at start, with the reason, when the bucket cannot be reached."""
        self._client.head_bucket(Bucket=self.bucket)


def asset_store_for(storage_url: str, default_dir: Path, *,
                    presign_seconds: int = 0) -> LocalAssetStore | S3AssetStore:
    """``HALLMARK_STORAGE_URL``: empty (the data directory's media/), a directory, or s3://bucket/prefix."""
    if storage_url.startswith("s3://"):
        return S3AssetStore(storage_url, presign_seconds=presign_seconds)
    if "://" in storage_url and not storage_url.startswith("file://"):
        raise ValueError(f"HALLMARK_STORAGE_URL {storage_url!r}: use a directory or s3://bucket/prefix")
    return LocalAssetStore(Path(storage_url.removeprefix("file://")) if storage_url else default_dir)
