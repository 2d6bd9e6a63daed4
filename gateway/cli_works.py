"""``hallmark works``: rights holders' registered works (reference images and clips)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .cli_common import DataDir, cli_runtime
from .works import WorkRegistry

works_app = typer.Typer(help="Registered works: outputs and reference images that match them go to the policy.",
                        no_args_is_help=True)
console = Console(soft_wrap=True)


@works_app.command("add")
def add(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        title: str = typer.Option(..., help="What the work is called."),
        owner: str = typer.Option("unknown", help="The rights holder."),
        data_dir: Optional[Path] = DataDir) -> None:
    """Register an image or clip."""
    with cli_runtime(data_dir) as rt:
        work = WorkRegistry(rt).add(data=file.read_bytes(), title=title, owner=owner, actor="cli")
    console.print(f"registered {work['id']}  {work['title']!r} ({work['fingerprints']} fingerprints)")


@works_app.command("list")
def list_works(data_dir: Optional[Path] = DataDir) -> None:
    """List registered works."""
    with cli_runtime(data_dir) as rt:
        for work in WorkRegistry(rt).list():
            console.print(f"{work['id']}  {work['title']!r}  owner={work['owner']}  sha256={work['asset_sha256'][:16]}…")


@works_app.command("remove")
def remove(work_id: str, data_dir: Optional[Path] = DataDir) -> None:
    """Remove a registered work."""
    with cli_runtime(data_dir) as rt:
        WorkRegistry(rt).remove(work_id, actor="cli")
    console.print(f"removed {work_id}")
