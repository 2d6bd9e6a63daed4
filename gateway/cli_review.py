"""``hallmark review``: the operator's side of the review queue."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .cli_common import DataDir, open_runtime
from .errors import GatewayError

review_app = typer.Typer(help="Jobs the policy sent to review: list, approve, reject.", no_args_is_help=True)
console = Console(soft_wrap=True)


def _jobs(data_dir: Optional[Path]):
    from .jobs import JobService

    rt = open_runtime(data_dir)
    return rt, JobService(rt)


@review_app.command("list")
def list_pending(data_dir: Optional[Path] = DataDir) -> None:
    """Show the jobs waiting for a decision."""
    rt, jobs = _jobs(data_dir)
    try:
        pending = jobs.pending_reviews()
        for job in pending:
            console.print(f"{job.id}  tenant={job.tenant}  policy={job.policy}  prompt={job.prompt!r}")
        if not pending:
            console.print("nothing awaits review")
    finally:
        rt.close()


def _decide(video_id: str, approve: bool, reason: str, data_dir: Optional[Path]) -> None:
    rt, jobs = _jobs(data_dir)
    try:
        job = jobs.decide_review(video_id, approve=approve, actor="cli", reason=reason)
    except GatewayError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2)
    finally:
        rt.close()
    console.print(f"{job.id}: {job.review} (status {job.status})")


@review_app.command("approve")
def approve(video_id: str, data_dir: Optional[Path] = DataDir) -> None:
    """Let the job run."""
    _decide(video_id, True, "", data_dir)


@review_app.command("reject")
def reject(video_id: str, reason: str = typer.Option("", help="Recorded in the audit log and the job's error."),
           data_dir: Optional[Path] = DataDir) -> None:
    """Fail the job with moderation_blocked."""
    _decide(video_id, False, reason, data_dir)
