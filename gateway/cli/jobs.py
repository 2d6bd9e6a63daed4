"""``hallmark jobs``: upkeep of the jobs table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import DataDir, cli_runtime, console

jobs_app = typer.Typer(help="Jobs: data upkeep.", no_args_is_help=True)


@jobs_app.command("purge-prompts")
def purge_prompts(days: Optional[int] = typer.Option(None, "--days", min=0, help="Keep prompts of jobs that ended "
                                                     "fewer than this many days ago (default "
                                                     "HALLMARK_PROMPT_RETENTION_DAYS; 0: remove all ended)."),
                  data_dir: Optional[Path] = DataDir) -> None:
    """Remove the prompts of deleted jobs and of jobs that ended before the retention period (the running gateway
    does this hourly too); the audit log keeps only each prompt's SHA-256."""
    with cli_runtime(data_dir) as rt:
        purged = rt.generation.purge_prompts(retention_days=days)
        kept = rt.settings.prompt_retention_days if days is None else days
    console.print(f"removed {purged} prompt(s) (retention {kept} day(s))")
