"""How a worker learns that a job became runnable. The job row in the database is the source of truth; the queue
only wakes workers, so a lost signal costs at most one poll interval, never a job."""

from __future__ import annotations

import threading
from typing import Protocol


class JobQueue(Protocol):
    def notify(self, job_id: str | None = None, model: str | None = None) -> None:
        """A job was queued or approved (or re-queued after its worker died): wake a worker. A distributed queue
        sends ``job_id`` to the pool that serves ``model``."""

    def wait(self, timeout: float) -> None:
        """Block until notified or ``timeout`` seconds passed."""


class InProcessQueue:
    """Workers that are threads of the API process."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self, job_id: str | None = None, model: str | None = None) -> None:
        self._event.set()

    def wait(self, timeout: float) -> None:
        self._event.wait(timeout)
        self._event.clear()
