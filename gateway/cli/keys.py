"""``hallmark keys``: the signing certificate in use."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import DataDir, cli_runtime, console

keys_app = typer.Typer(help="The signing keys and certificates.", no_args_is_help=True)


@keys_app.command("init")
def keys_init(data_dir: Optional[Path] = DataDir) -> None:
    """Create the development CA and signing certificate if they do not exist yet."""
    _show(data_dir)


@keys_app.command("show")
def keys_show(data_dir: Optional[Path] = DataDir) -> None:
    """Show the signing certificate in use and the trust anchors."""
    _show(data_dir)


def _show(data_dir: Optional[Path]) -> None:
    from ..provenance import describe_material

    with cli_runtime(data_dir) as rt:
        info = describe_material(rt.signing)
        settings = rt.settings
    source = "operator-provided" if settings.signing_cert_chain else f"development CA in {settings.keys_dir}"
    console.print(f"[bold]Signing certificate[/bold] ({source})")
    for key, value in info.items():
        console.print(f"  {key}: {value}")
    console.print(f"  trusted when verifying: {'yes (HALLMARK_TRUST_DEV_ROOT)' if rt.dev_root_trusted else 'only via HALLMARK_TRUST_ANCHORS'}")
    console.print(f"  time-stamp authority: {settings.tsa_url or 'none (signatures turn invalid when this certificate expires)'}")


@keys_app.command("shared")
def keys_shared(directory: Path = typer.Argument(..., help="Where to write the key files (made 0700)."),
                origin: str = typer.Option("hallmark.local/audit", help="HALLMARK_AUDIT_ORIGIN of the deployment.")
                ) -> None:
    """Make the audit checkpoint key and the prompt key file once, for a distributed deployment: copy them to every
    node and point HALLMARK_AUDIT_KEY_FILE and HALLMARK_AUDIT_PROMPT_KEYS_FILE at them (existing files are kept)."""
    from ..audit.checkpoint import CheckpointSigner
    from ..audit.prompts import PromptVault

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    signer = CheckpointSigner.load_or_create(directory / "audit-ed25519.key", origin)
    PromptVault(directory / "audit-prompt-keys.json").ensure()
    console.print(f"HALLMARK_AUDIT_KEY_FILE={directory / 'audit-ed25519.key'}\n"
                  f"HALLMARK_AUDIT_PROMPT_KEYS_FILE={directory / 'audit-prompt-keys.json'}\n"
                  f"audit verifier key: {signer.verifier}")
