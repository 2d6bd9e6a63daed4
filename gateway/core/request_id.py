"""The id of the HTTP request being served: sent back as ``x-request-id`` (the OpenAI SDK exposes it as
``request_id``), and readable by logs and the audit log through ``current()`` while the request runs."""

from __future__ import annotations

import logging
import re
import secrets
from contextvars import ContextVar

HEADER = "x-request-id"

_current: ContextVar[str | None] = ContextVar("hallmark_request_id", default=None)

# A caller's own id (a load balancer's, a client's trace id) is kept when it is short and plain, so one id follows
# the request through every hop; anything else could smuggle text into logs and is replaced.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(16)


def accept_or_new(incoming: str | None) -> str:
    return incoming if incoming is not None and _ACCEPTED.fullmatch(incoming) else new_request_id()


def current() -> str | None:
    """The id of the request this code runs for, or None outside a request (a worker, the CLI)."""
    return _current.get()


def bind(request_id: str | None):
    """Make ``request_id`` current; returns the token ``unbind`` takes."""
    return _current.set(request_id)


def unbind(token) -> None:
    _current.reset(token)


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request), for formats that name it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or "-"
        return True
