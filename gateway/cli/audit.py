"""``hallmark audit``: verify the log (or an export, offline), export entries, write the compliance report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ..audit import AuditEvent
from .common import DataDir, cli_runtime, console, err_console, fail

audit_app = typer.Typer(help="The tamper-evident audit log: verify, export, report, prune.", no_args_is_help=True)

From = typer.Option(None, "--from", help="Start of the period (ISO 8601 date or date-time, UTC by default).")
To = typer.Option(None, "--to", help="End of the period, exclusive.")


def _when(raw: Optional[str], flag: str):
    from ..audit import parse_time

    if raw is None:
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise fail(f"{flag} must be an ISO 8601 date or date-time, got {raw!r}")


def _verifier(raw: Optional[str]):
    from ..audit import CheckpointError, VerifierKey

    if raw is None:
        return None
    text = Path(raw).read_text() if Path(raw).is_file() else raw
    try:
        return VerifierKey.parse(text)
    except CheckpointError as exc:
        raise fail(str(exc))


@audit_app.command("verify")
def verify(export: Optional[Path] = typer.Option(None, "--export", exists=True, dir_okay=False,
                                                 help="Verify this jsonl export offline instead of the database."),
           public_key: Optional[str] = typer.Option(None, "--public-key",
                                                    help="Verifier key (name+id+base64) or a file holding it. "
                                                         "Required with --export; pins the key otherwise."),
           as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
           data_dir: Optional[Path] = DataDir) -> None:
    """Recompute the Merkle tree from the entries and check every checkpoint. Exit 0 intact, 1 not."""
    verifier = _verifier(public_key)
    if export is not None:
        from ..audit.export import verify_export

        if verifier is None:
            raise fail("--export needs --public-key (the log's verifier key)")
        with export.open() as lines:
            report = verify_export(lines, verifier)
        result = {"ok": report.ok, "entries": report.entries, "tree_size": report.tree_size,
                  "problems": report.problems}
    else:
        with cli_runtime(data_dir) as rt:
            report = rt.audit.verify(verifier)
        result = {"ok": report.ok, "entries": report.entries, "tree_size": report.tree_size,
                  "checkpoints": report.checkpoints, "pruned_before": report.pruned_before,
                  "problems": report.problems}
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        mark = "[green]intact[/green]" if result["ok"] else "[red]NOT intact[/red]"
        extra = f", {result['checkpoints']} signed checkpoints checked" if "checkpoints" in result else ""
        console.print(f"audit log {mark}: {result['entries']} entries, tree size {result['tree_size']}{extra}")
        for problem in result["problems"]:
            console.print(f"  [red]✗[/red] {problem}")
    raise typer.Exit(0 if result["ok"] else 1)


@audit_app.command("export")
def export(since: Optional[str] = From, until: Optional[str] = To,
           fmt: str = typer.Option("jsonl", "--format", help="jsonl (verifiable offline) or csv."),
           output: Optional[Path] = typer.Option(None, "-o", "--output", help="File to write (default: stdout)."),
           data_dir: Optional[Path] = DataDir) -> None:
    """Export entries of a period, with the signed checkpoint and inclusion proofs (jsonl)."""
    from ..audit.export import FORMATS, export_lines

    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}")
    start, end = _when(since, "--from"), _when(until, "--to")
    with cli_runtime(data_dir) as rt:
        handle = output.open("w", newline="") if output else sys.stdout
        try:
            for line in export_lines(rt.audit, fmt=fmt, since=start, until=end):
                handle.write(line)
        finally:
            if output:
                handle.close()
    if output:
        err_console.print(f"wrote {output}")


@audit_app.command("report")
def report(since: Optional[str] = From, until: Optional[str] = To,
           html_out: Optional[Path] = typer.Option(None, "--html", help="Write the HTML report here."),
           json_out: Optional[Path] = typer.Option(None, "--json", help="Write the JSON report here (default: "
                                                                        "stdout when --html is not given)."),
           data_dir: Optional[Path] = DataDir) -> None:
    """The compliance report for a period: requests, decisions, tenants, labels, checks, signing keys."""
    from ..audit.report import build_report, render_html

    start, end = _when(since, "--from"), _when(until, "--to")
    with cli_runtime(data_dir) as rt:
        data = build_report(rt.audit, since=start, until=end)
    if html_out:
        html_out.write_text(render_html(data))
        err_console.print(f"wrote {html_out}")
    if json_out:
        json_out.write_text(json.dumps(data, indent=2))
        err_console.print(f"wrote {json_out}")
    if not html_out and not json_out:
        print(json.dumps(data, indent=2))


@audit_app.command("checkpoint")
def checkpoint(data_dir: Optional[Path] = DataDir) -> None:
    """Print the signed checkpoint for the current tree size (signing it if new)."""
    with cli_runtime(data_dir) as rt:
        sys.stdout.write(rt.audit.checkpoint().note)


@audit_app.command("public-key")
def public_key(data_dir: Optional[Path] = DataDir) -> None:
    """Print the log's verifier key (give it to whoever verifies exports or checkpoints)."""
    with cli_runtime(data_dir) as rt:
        print(rt.audit.signer.verifier)


@audit_app.command("prune")
def prune(days: Optional[int] = typer.Option(None, "--days", help="Retention in days (default "
                                                                 "HALLMARK_AUDIT_RETENTION_DAYS; at least 183)."),
          data_dir: Optional[Path] = DataDir) -> None:
    """Delete entries older than the retention period; their leaf hashes stay, so the tree still verifies."""
    from ..audit.retention import prune as prune_log

    with cli_runtime(data_dir) as rt:
        try:
            result = prune_log(rt.audit, retention_days=days or rt.settings.audit_retention_days, actor="cli")
        except ValueError as exc:
            raise fail(str(exc))
    console.print(f"pruned {result.deleted} entries older than {result.cutoff.isoformat()} "
                  f"(entries before index {result.before_index} are gone; their leaf hashes remain)")


@audit_app.command("rotate-prompt-key")
def rotate_prompt_key(data_dir: Optional[Path] = DataDir) -> None:
    """Add a new AES-GCM key for sealing prompts and make it current (old keys stay, to open old entries)."""
    from ..audit.prompts import PromptVault

    with cli_runtime(data_dir) as rt:
        path = rt.settings.audit_prompt_keys_path
        kid = PromptVault(path).rotate()
        rt.audit.append(AuditEvent(event="keys.prompt_key_rotated", actor="cli", object_id=kid,
                                   data={"kid": kid, "file": path.name}))  # entries are served over the API
    console.print(f"prompt key {kid} is now current ({path})")


@audit_app.command("show-prompt")
def show_prompt(index: int = typer.Argument(..., min=0, max=2**63 - 1, help="The entry's index."),
                data_dir: Optional[Path] = DataDir) -> None:
    """Open the sealed prompt of one entry (needs the prompt key file; encrypted mode only)."""
    from ..audit.prompts import PromptKeyError, PromptVault

    with cli_runtime(data_dir) as rt:
        row = rt.audit.entry(index)
        sealed = row.data.get("prompt_encrypted") if row else None
        if sealed is None:
            raise fail(f"entry {index} has no encrypted prompt", 1)
        try:
            print(PromptVault(rt.settings.audit_prompt_keys_path).open(sealed, row.data["prompt_sha256"]))
        except PromptKeyError as exc:
            raise fail(str(exc), 1)
