"""``hallmark works``: rights holders' registered works (reference images and clips)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import DataDir, cli_runtime, console

works_app = typer.Typer(help="Registered works: outputs and reference images that match them go to the policy.",
                        no_args_is_help=True)


@works_app.command("add")
def add(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        title: str = typer.Option(..., help="What the work is called."),
        owner: str = typer.Option("unknown", help="The rights holder."),
        data_dir: Optional[Path] = DataDir) -> None:
    """Register an image or clip."""
    with cli_runtime(data_dir) as rt:
        work = rt.works.add(data=file.read_bytes(), title=title, owner=owner, actor="cli")
    console.print(f"registered {work['id']}  {work['title']!r} ({work['fingerprints']} fingerprints)")


@works_app.command("list")
def list_works(data_dir: Optional[Path] = DataDir) -> None:
    """List registered works."""
    with cli_runtime(data_dir) as rt:
        for work in rt.works.list():
            console.print(f"{work['id']}  {work['title']!r}  owner={work['owner']}  sha256={work['asset_sha256'][:16]}…")


@works_app.command("remove")
def remove(work_id: str, data_dir: Optional[Path] = DataDir) -> None:
    """Remove a registered work."""
    with cli_runtime(data_dir) as rt:
        rt.works.remove(work_id, actor="cli")
    console.print(f"removed {work_id}")
