"""Local file storage for assets under the data directory; writes are atomic (temp file + rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class AssetStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, name: str) -> Path:
        if "/" in name or name.startswith("."):
            raise ValueError(f"invalid asset name {name!r}")
        return self.root / name

    def put(self, name: str, data: bytes) -> Path:
        target = self.path_for(name)
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
        return target

    def get(self, name: str) -> bytes:
        return self.path_for(name).read_bytes()

    def exists(self, name: str) -> bool:
        return self.path_for(name).exists()

    def delete(self, name: str) -> None:
        self.path_for(name).unlink(missing_ok=True)
