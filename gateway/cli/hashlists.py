"""``hallmark hashlists`` and ``hallmark protected``: operators' PDQ hash lists of known-harmful images, and the
people nobody may depict."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import DataDir, cli_runtime, console

hashlists_app = typer.Typer(help="PDQ hash lists: reference images and output frames that match one go to the policy.",
                            no_args_is_help=True)
protected_app = typer.Typer(help="Protected persons: faces nobody may depict or register as a character.",
                            no_args_is_help=True)


@hashlists_app.command("import")
def import_list(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                            help="Hex PDQ hashes, one a line, or a CSV with one such column."),
                name: str = typer.Option(..., help="The list's name (replaces a list of that name)."),
                action: str = typer.Option("block", help="What a match does at least: block or review."),
                data_dir: Optional[Path] = DataDir) -> None:
    """Import (or replace) a hash list."""
    with cli_runtime(data_dir) as rt:
        imported = rt.hash_lists.import_list(name=name, action=action, data=file.read_bytes(), source=file.name,
                                             actor="cli")
    console.print(f"imported {imported['name']}: {imported['entries']} hashes, action {imported['action']}")


@hashlists_app.command("list")
def list_lists(data_dir: Optional[Path] = DataDir) -> None:
    """List hash lists."""
    with cli_runtime(data_dir) as rt:
        for item in rt.hash_lists.list():
            console.print(f"{item['name']}  {item['entries']} hashes  action={item['action']}  from {item['source']}")


@hashlists_app.command("remove")
def remove_list(name: str, data_dir: Optional[Path] = DataDir) -> None:
    """Remove a hash list."""
    with cli_runtime(data_dir) as rt:
        rt.hash_lists.remove(name, actor="cli")
    console.print(f"removed {name}")


@protected_app.command("add")
def add_person(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                           help="A photo or video of the person, face visible."),
               name: str = typer.Option(..., help="Who this is (kept for operators; never shown to users)."),
               data_dir: Optional[Path] = DataDir) -> None:
    """Register a protected person."""
    with cli_runtime(data_dir) as rt:
        person = rt.characters.protect(name=name, data=file.read_bytes(), actor="cli")
    console.print(f"protected {person['id']}  {person['name']!r} ({person['faces']} face embeddings)")


@protected_app.command("list")
def list_people(data_dir: Optional[Path] = DataDir) -> None:
    """List protected persons."""
    with cli_runtime(data_dir) as rt:
        for person in rt.characters.protected():
            console.print(f"{person['id']}  {person['name']!r}  {person['faces']} face embeddings")


@protected_app.command("remove")
def remove_person(person_id: str, data_dir: Optional[Path] = DataDir) -> None:
    """Remove a protected person."""
    with cli_runtime(data_dir) as rt:
        rt.characters.unprotect(person_id, actor="cli")
    console.print(f"removed {person_id}")
