"""What every ``hallmark`` sub-command shares: the --data-dir option and the runtime it opens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from .settings import Settings

DataDir = typer.Option(None, "--data-dir", help="Overrides HALLMARK_DATA_DIR.")


def open_runtime(data_dir: Optional[Path]):
    """A Runtime over the configured (or given) data directory; the caller closes it."""
    from .runtime import Runtime

    return Runtime(Settings(data_dir=data_dir) if data_dir else Settings())


@contextmanager
def cli_runtime(data_dir: Optional[Path]) -> Iterator:
    """A Runtime for one command: a GatewayError becomes its message and exit code 2; the runtime is closed."""
    from rich.console import Console

    from .errors import GatewayError

    rt = open_runtime(data_dir)
    try:
        yield rt
    except GatewayError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2)
    finally:
        rt.close()
