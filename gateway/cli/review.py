"""``hallmark review``: the operator's side of the review queue."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import DataDir, cli_runtime, console

review_app = typer.Typer(help="Jobs the policy sent to review: list, approve, reject.", no_args_is_help=True)


@review_app.command("list")
def list_pending(data_dir: Optional[Path] = DataDir) -> None:
    """Show the jobs waiting for a decision."""
    with cli_runtime(data_dir) as rt:
        pending = rt.generation.pending_reviews()
    for job in pending:
        console.print(f"{job.id}  tenant={job.tenant}  policy={job.policy}  prompt={job.prompt!r}")
    if not pending:
        console.print("nothing awaits review")


def _decide(video_id: str, approve: bool, reason: str, data_dir: Optional[Path]) -> None:
    with cli_runtime(data_dir) as rt:
        job = rt.generation.decide_review(video_id, approve=approve, actor="cli", reason=reason)
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
