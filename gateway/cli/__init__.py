"""The ``hallmark`` command line: one module per command group; each command parses its arguments, calls one
service through ``cli_runtime`` and maps its errors to exit codes."""

from __future__ import annotations

import typer

from .audit import audit_app
from .db import db_app
from .hashlists import hashlists_app, protected_app
from .jobs import jobs_app
from .keys import keys_app
from .policy import policy_app
from .review import review_app
from .run import generate, serve, verify
from .worker import worker
from .works import works_app

app = typer.Typer(help="Hallmark: moderated, watermarked, C2PA-signed video generation and verification.",
                  no_args_is_help=True, add_completion=False)
app.command()(serve)
app.command()(generate)
app.command()(verify)
app.command()(worker)
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(works_app, name="works")
app.add_typer(hashlists_app, name="hashlists")
app.add_typer(protected_app, name="protected")
app.add_typer(review_app, name="review")
app.add_typer(jobs_app, name="jobs")
app.add_typer(policy_app, name="policy")
app.add_typer(db_app, name="db")

__all__ = ["app", "main"]


def main() -> None:
    app(prog_name="hallmark")
