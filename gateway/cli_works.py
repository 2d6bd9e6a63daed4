"""``hallmark works``: rights holders' registered works (reference images and clips)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .cli_common import DataDir, open_runtime
from .errors import GatewayError

works_app = typer.Typer(help="Registered works: outputs and reference images that match them go to the policy.",
                        no_args_is_help=True)
console = Console(soft_wrap=True)


def _registry(data_dir: Optional[Path]):
    from .works import WorkRegistry

    rt = open_runtime(data_dir)
    return rt, WorkRegistry(rt)


@works_app.command("add")
def add(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        title: str = typer.Option(..., help="What the work is called."),
        owner: str = typer.Option("unknown", help="The rights holder."),
        data_dir: Optional[Path] = DataDir) -> None:
    """Register an image or clip."""
    rt, works = _registry(data_dir)
    try:
        work = works.add(data=file.read_bytes(), title=title, owner=owner, actor="cli")
    except GatewayError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2)
    finally:
        rt.close()
    console.print(f"registered {work['id']}  {work['title']!r} ({work['fingerprints']} fingerprints)")


@works_app.command("list")
def list_works(data_dir: Optional[Path] = DataDir) -> None:
    """List registered works."""
    rt, works = _registry(data_dir)
    try:
        for work in works.list():
            console.print(f"{work['id']}  {work['title']!r}  owner={work['owner']}  sha256={work['asset_sha256'][:16]}…")
    finally:
        rt.close()


@works_app.command("remove")
def remove(work_id: str, data_dir: Optional[Path] = DataDir) -> None:
    """Remove a registered work."""
    rt, works = _registry(data_dir)
    try:
        works.remove(work_id, actor="cli")
    except GatewayError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2)
    finally:
        rt.close()
    console.print(f"removed {work_id}")
