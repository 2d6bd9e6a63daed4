"""``hallmark serve``, ``hallmark generate`` and ``hallmark verify``: the gateway, one video, one check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..core.settings import Settings
from .common import DataDir, cli_runtime, console, err_console, fail, open_runtime, settings_for


def serve(host: Optional[str] = typer.Option(None, help="Bind address (HALLMARK_HOST)."),
          port: Optional[int] = typer.Option(None, help="Port (HALLMARK_PORT)."),
          no_worker: bool = typer.Option(False, "--no-worker", help="API only: jobs run in `hallmark worker` "
                                         "processes (always so when HALLMARK_QUEUE_URL is set)."),
          data_dir: Optional[Path] = DataDir) -> None:
    """Start the gateway (API + in-process worker)."""
    import uvicorn

    from ..api import create_app
    from ..api.server import server_config

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings_for(data_dir, **overrides)
    _check_policy_packs(settings)
    open_runtime(settings).close()  # the schema revision and the node's identity, checked before serving
    console.print(f"Hallmark listening on http://{settings.host}:{settings.port}  (data: {settings.data_dir.resolve()})")
    start_worker = not (no_worker or settings.queue_url)
    server = uvicorn.Server(server_config(create_app(settings, start_worker=start_worker), host=settings.host,
                                          port=settings.port,
                                          log_level="info", log_config=log_config(settings.log_format == "json")))
    server.run()
    if not server.started:  # as uvicorn.run does: a server that could not start (port taken) exits 3
        raise typer.Exit(3)


def log_config(json_lines: bool = False) -> dict:
    """uvicorn's logging, with every handler passing lines through ``RedactingFilter``: an access line is logged
    without its query string (where a client may have put its key) and any other line with credentials masked.
    The gateway's own loggers (``hallmark.*``) write beside uvicorn's, through the same filter. ``json_lines``
    (HALLMARK_LOG_FORMAT=json): one JSON object per line, with the request id."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "gateway.core.redact.RedactingFilter"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["loggers"]["hallmark"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    if json_lines:
        config["formatters"] = {name: {"()": "gateway.core.logfmt.JsonFormatter"} for name in config["formatters"]}
    return config


def _check_policy_packs(settings: Settings) -> None:
    """Refuse to start on an invalid pack, with the pack's own error list rather than a startup traceback."""
    from policies import PolicyError, load_pack

    for source in [settings.policy_pack, *settings.tenant_policy_sources.values()]:
        try:
            load_pack(source)
        except PolicyError as exc:
            raise fail(str(exc))


def generate(prompt: str = typer.Argument(..., help="What the video should show."),
             output: Path = typer.Option(..., "-o", "--output", help="Where to write the MP4."),
             seconds: int = typer.Option(4, help="Length in seconds."),
             size: str = typer.Option("256x256", help="WIDTHxHEIGHT."),
             seed: Optional[int] = typer.Option(None, help="Random seed (default: random)."),
             tenant: str = typer.Option("cli", help="Tenant recorded in the audit log."),
             data_dir: Optional[Path] = DataDir) -> None:
    """Generate one video offline, through the same pipeline as the API."""
    from ..generation.requests import VideoForm

    form = VideoForm(prompt=prompt, seconds=str(seconds), size=size, seed=None if seed is None else str(seed))
    with cli_runtime(data_dir) as rt, Progress(TextColumn("[bold]generating"), BarColumn(),
                                               TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                                               console=err_console) as bar:
        task = bar.add_task("generate", total=100)
        made = rt.generation.generate_now(form, tenant=tenant, actor="cli",
                                          progress=lambda pct: bar.update(task, completed=pct))
        bar.update(task, completed=100)
    video = made.video
    output.write_bytes(video.mp4)
    console.print(f"wrote {output} ({len(video.mp4)} bytes, {video.frames} frames at {video.fps:g} fps)"
                  f"  id={made.video_id}  content_id={made.content_id:016x}")


def verify(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
           as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
           data_dir: Optional[Path] = DataDir) -> None:
    """Check a video or image: C2PA credentials, watermark, and this gateway's registry.

    Exit code 0: generated by this gateway (registry match or trusted credentials); 1: not recognised
    or credentials invalid; 2: the file could not be read.
    """
    with cli_runtime(data_dir) as rt:
        verdict = rt.verification.verify(file.read_bytes(), tenant=None, actor="cli")
    results = verdict.results()
    if as_json:
        print(json.dumps({"file": str(file), "sha256": verdict.sha256, "mime": verdict.mime,
                          "generated_by_this_gateway": verdict.generated_here,
                          "verdict": verdict.assessment.to_dict(), "results": results,
                          "timeline": verdict.timeline_dicts()}, indent=2))
    else:
        _print_verdict(file, verdict)
    raise typer.Exit(0 if verdict.generated_here and verdict.c2pa.state != "invalid" else 1)


def _print_verdict(file: Path, verdict) -> None:
    c2pa, wm, reg = verdict.results()
    console.print(f"[bold]{file}[/bold]  ({verdict.mime}, sha256 {verdict.sha256[:16]}…)")
    colour = {"trusted": "green", "valid": "yellow", "invalid": "red"}.get(c2pa["validation_state"], "white")
    state = c2pa["validation_state"]
    if c2pa.get("trust") == "development root":
        state += " (development root)"  # trusted only because this data directory's own CA is
    line = f"  C2PA credentials: [{colour}]{state}[/{colour}]"
    if c2pa["issuer"]:
        line += f" — signed by {c2pa['issuer']}"
    if c2pa["generated_at"]:
        line += f", generated {c2pa['generated_at']}"
    console.print(line)
    for code in c2pa["validation_codes"]:
        console.print(f"    [red]✗[/red] {code}")
    if wm["outcome"] == "detected":
        console.print(f"  Watermark: [green]detected[/green] — content id {wm['content_id']} "
                      f"(confidence {wm['confidence']:.2f})")
    else:
        console.print("  Watermark: not detected" + (f" ({wm['note']})" if wm.get("note") else ""))
    if reg["outcome"] == "matched":
        console.print(f"  Registry: [green]generated by this gateway[/green] — {reg['video_id']} "
                      f"(model {reg['model']}, matched by {reg['method']})")
    else:
        console.print("  Registry: no matching generation record")
    overall = verdict.assessment
    if overall.origin == "this_gateway":
        layers = ", ".join(f"{layer} {conf:.3f}" for layer, conf in overall.evidence.items()) or "no layer scored"
        state = {True: "[red]altered since signing[/red]", False: "credentials intact",
                 None: "alteration unknown (no credentials to check against)"}[overall.altered]
        console.print(f"  Verdict: [green]generated here[/green], content id {overall.content_id}, "
                      f"confidence {overall.confidence:.4f} ({layers}); {state}")
    else:
        console.print("  Verdict: not recognised as generated by this gateway")
    for layer, other in overall.conflicts.items():
        console.print(f"    [yellow]![/yellow] the {layer} layer names another content id: {other}")
