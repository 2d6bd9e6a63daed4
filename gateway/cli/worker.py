"""``hallmark worker``: a generation worker process. It loads the model once, then serves jobs: from the Celery queue
at HALLMARK_QUEUE_URL (its pool's queue), or, without a queue, straight from the database (beside a
``hallmark serve --no-worker`` on the same data)."""

from __future__ import annotations

import logging
import logging.config
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Optional

import typer

from .common import DataDir, console, fail, open_runtime, settings_for


def worker(queue: Optional[list[str]] = typer.Option(None, "--queue", "-Q", help="Pool(s) to serve (repeatable; "
                                                     "default 'hallmark'); HALLMARK_MODEL_QUEUES routes models."),
           concurrency: int = typer.Option(1, "--concurrency", "-c", min=1, max=16,
                                           help="Jobs run at once in this process (threads sharing one model)."),
           data_dir: Optional[Path] = DataDir) -> None:
    """Run a generation worker (loads the model once; jobs come from the queue or the database)."""
    from ..generation.worker import Sweeper
    from .run import log_config

    settings = settings_for(data_dir, workers=concurrency)
    logging.config.dictConfig(log_config(settings.log_format == "json"))
    rt = open_runtime(settings)
    try:
        _ = rt.signing  # the identity (and, in a distributed deployment, that it is configured) before any job
        generator = rt.generator  # the model, loaded once for every job this process runs
        console.print(f"hallmark worker: model {generator.name}, concurrency {concurrency}, "
                      f"{'queue ' + settings.queue_url.split('@')[-1] if settings.queue_url else 'database polling'}")
        threads = rt.worker()  # the in-process worker: its threads, or (with a queue) just its housekeeping
        if not settings.queue_url:
            _serve_database(threads)
            return
        from ..store.celery_queue import DEFAULT_QUEUE, queue_depth, register_runner, run_worker

        app = rt.queue.app
        queues = queue or [DEFAULT_QUEUE]
        sweeper = Sweeper(rt.runner, rt.queue, republish_after=max(60.0, settings.job_lease_seconds),
                          pending_messages=lambda: sum(queue_depth(app, queues).values()))
        sweeper.start()
        _every(3600.0, threads.housekeep)
        # A signed checkpoint of the shared log at least hourly, from the workers rather than from API reads (the
        # same tree size signs to the same note, so several workers doing it store one checkpoint).
        _every(3600.0, rt.audit.checkpoint)
        register_runner(app, rt.runner.run_by_id)
        run_worker(app, queues=queues, concurrency=concurrency,
                   hostname=f"hallmark-{os.getpid()}@{socket.gethostname()}")
        sweeper.stop()
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # e.g. the model could not load: the reason, not a traceback
        raise fail(f"{type(exc).__name__}: {exc}")
    finally:
        rt.close()


def _serve_database(worker) -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    stop.wait()
    worker.stop()


def _every(seconds: float, task) -> None:
    """Run ``task`` now and every ``seconds`` in a daemon thread (failures are logged and retried next time)."""
    log = logging.getLogger("hallmark.worker")

    def loop() -> None:
        while True:
            try:
                task()
            except Exception:
                log.exception("periodic task failed")
            threading.Event().wait(seconds)

    threading.Thread(target=loop, name="hallmark-periodic", daemon=True).start()
