"""What every ``hallmark`` sub-command shares: the --data-dir option and the runtime it opens."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .settings import Settings

DataDir = typer.Option(None, "--data-dir", help="Overrides HALLMARK_DATA_DIR.")


def open_runtime(data_dir: Optional[Path]):
    """A Runtime over the configured (or given) data directory; the caller closes it."""
    from .runtime import Runtime

    return Runtime(Settings(data_dir=data_dir) if data_dir else Settings())
