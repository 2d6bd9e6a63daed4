"""Asset storage (videos, thumbnails, reference images) by name: the protocol the services use, and the local-files
implementation of the embedded deployment. Names are flat (no folders), so a store can map them to anything."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol


class AssetStore(Protocol):
    def put(self, name: str, data: bytes) -> None: ...

    def get(self, name: str) -> bytes: ...

    def exists(self, name: str) -> bool: ...

    def delete(self, name: str) -> None: ...


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

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)
