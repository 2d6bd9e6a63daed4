"""``hallmark policy``: check a pack file, show which pack decides for whom, and reload a running gateway's packs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

import typer

from .common import DataDir, cli_runtime, console, err_console

policy_app = typer.Typer(help="Policy packs: check, list, reload.", no_args_is_help=True)


@policy_app.command("check")
def check(pack: str = typer.Argument(..., help="A YAML pack file (or a shipped pack name).")) -> None:
    """Validate a pack without touching any gateway; exit 2 listing every problem."""
    from policies import PolicyError, load_pack

    try:
        loaded = load_pack(pack)
    except PolicyError as exc:
        err_console.print(f"[red]invalid:[/red] {exc}")
        raise typer.Exit(2)
    console.print(f"ok: {loaded.ref}  sha256={loaded.digest}  "
                  f"({len(loaded.thresholds)} thresholds, labels: {', '.join(loaded.labels) or 'none'})")


@policy_app.command("list")
def list_packs(data_dir: Optional[Path] = DataDir) -> None:
    """The pack each scope uses under the current settings ('*' = every tenant without its own)."""
    with cli_runtime(data_dir) as rt:
        active = rt.policies.active()
    for pack in active:
        console.print(f"{pack.scope:<16} {pack.policy:<28} sha256={pack.digest[:16]}…  {pack.source}")


@policy_app.command("reload")
def reload(scope: Optional[str] = typer.Option(None, help="Reload one scope (a tenant, or '*'); default all."),
           url: str = typer.Option("http://127.0.0.1:8000", envvar="HALLMARK_URL", help="The running gateway."),
           api_key: str = typer.Option(..., envvar="HALLMARK_ADMIN_KEY", help="An API key with the admin role.")
           ) -> None:
    """Ask a running gateway to re-read its pack files (POST /v1/policies/reload); the change is audited there."""
    body = json.dumps({"scope": scope}).encode()
    request = urllib.request.Request(url.rstrip("/") + "/v1/policies/reload", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {api_key}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            message = json.load(exc)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {exc.code}"
        err_console.print(f"[red]error:[/red] {message}")
        raise typer.Exit(2)
    except urllib.error.URLError as exc:
        err_console.print(f"[red]error:[/red] cannot reach the gateway at {url}: {exc.reason}")
        raise typer.Exit(2)
    for pack in answer["data"]:
        console.print(f"{pack['scope']:<16} {pack['policy']:<28} sha256={pack['digest'][:16]}…")
