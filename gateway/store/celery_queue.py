"""The distributed job queue: Celery with a Redis broker (``HALLMARK_QUEUE_URL``).

The job row stays the source of truth. A message carries only the job id; the worker that receives it claims the
job with a conditional update and holds a lease in the row (``gateway.generation.worker``), so a duplicate or
redelivered message finds the job taken and is dropped, and a job whose worker died is found by its expired lease,
not by the broker. The settings are the ones long GPU tasks need: acknowledgement after the task ran (a worker that
dies mid-job leaves its message to be delivered again), ``reject_on_worker_lost``, one message prefetched per
worker thread, and a visibility timeout longer than the longest job (Redis redelivers a message unacknowledged that
long even while it still runs)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

from celery import Celery

log = logging.getLogger("hallmark.queue")

TASK_NAME = "hallmark.run_job"
DEFAULT_QUEUE = "hallmark"
BUSY_RETRY_SECONDS = 2.0

# What running one job's message came to: done (ran, or found nothing to run: taken, ended, deleted, held for
# review) or busy (its tenant is at its running limit: try again shortly).
Outcome = Literal["done", "busy"]


def make_celery(broker_url: str, *, visibility_timeout: int) -> Celery:
    app = Celery("hallmark", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": visibility_timeout},
        broker_connection_retry_on_startup=True,
        task_default_queue=DEFAULT_QUEUE,
        task_ignore_result=True,  # the job row holds the outcome; no result backend
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


class CeleryQueue:
    """The ``JobQueue`` of a distributed deployment: ``notify`` publishes the job's id to its model's pool."""

    def __init__(self, app: Celery, *, routes: dict[str, str]) -> None:
        self.app = app
        self.routes = routes

    def queue_for(self, model: str | None) -> str:
        return self.routes.get(model or "", DEFAULT_QUEUE)

    def notify(self, job_id: str | None = None, model: str | None = None) -> None:
        if job_id is None:
            return
        # A message that cannot be sent leaves the job queued in the database: the next sweep of any worker sends
        # it again (``Sweeper``), so a broker outage delays the job, never loses it.
        try:
            self.app.send_task(TASK_NAME, args=[job_id], queue=self.queue_for(model))
        except Exception:
            log.exception("could not publish job %s; a worker's sweep will send it again", job_id)

    def wait(self, timeout: float) -> None:  # API processes never wait for work in this deployment
        time.sleep(timeout)

    def depth(self) -> dict[str, int]:
        return queue_depth(self.app, sorted({DEFAULT_QUEUE, *self.routes.values()}))


def register_runner(app: Celery, run: Callable[[str], Outcome]) -> None:
    """Define the task a ``hallmark worker`` process serves: run the job with this id (``run`` claims it)."""

    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
    def run_job(task, job_id: str) -> None:
        if run(job_id) == "busy":
            raise task.retry(countdown=BUSY_RETRY_SECONDS)


def run_worker(app: Celery, *, queues: list[str], concurrency: int, hostname: str | None = None) -> None:
    """Serve ``queues`` in this process with ``concurrency`` threads (one process, so the model is loaded once and
    shared; generation is torch work that releases the GIL)."""
    argv = ["worker", "--pool", "threads" if concurrency > 1 else "solo", "--concurrency", str(concurrency),
            "--queues", ",".join(queues), "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    if hostname:
        argv += ["--hostname", hostname]
    app.worker_main(argv)


def queue_depth(app: Celery, queues: list[str]) -> dict[str, int]:
    """Messages waiting in each queue (Redis: the list's length), for /metrics."""
    with app.connection_for_read() as connection:
        client = connection.default_channel.client
        return {queue: int(client.llen(queue)) for queue in queues}


__all__ = ["CeleryQueue", "DEFAULT_QUEUE", "TASK_NAME", "make_celery", "queue_depth", "register_runner",
           "run_worker"]
