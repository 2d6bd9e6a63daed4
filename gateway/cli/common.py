"""What every ``hallmark`` sub-command shares: the --data-dir option, the consoles, and the one way a command opens
the gateway's parts (the CLI's only door to the composition root)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ..core.errors import GatewayError
from ..core.settings import Settings

DataDir = typer.Option(None, "--data-dir", help="Overrides HALLMARK_DATA_DIR.")
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def settings_for(data_dir: Optional[Path], **overrides) -> Settings:
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return Settings(**overrides)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as an error; returns the Exit to raise."""
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def open_runtime(settings: Settings):
    """The composition root for these settings; a database behind the code (`hallmark db upgrade`) or a distributed
    node without its configured identity stops the command with the reason, not a traceback."""
    from ..bootstrap import DeploymentError, Runtime
    from ..store.schema import SchemaError

    try:
        return Runtime(settings)
    except (SchemaError, DeploymentError, ValueError) as exc:
        raise fail(str(exc))


@contextmanager
def cli_runtime(data_dir: Optional[Path]) -> Iterator:
    """The gateway's parts for one command: a GatewayError becomes its message and exit code 2; closed after."""
    rt = open_runtime(settings_for(data_dir))
    try:
        yield rt
    except GatewayError as exc:
        raise fail(exc.message)
    finally:
        rt.close()
