"""Keeping credentials and server paths out of what leaves the process: log lines, and text an API client reads.

A key sent as ``?api_key=…`` (some clients do) would otherwise be written to the access log with the request line;
a server path in an error message tells a client how the host is laid out."""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

# An absolute path with at least two segments (``/srv/x/pack.yaml``, ``C:\\x\\y``): a lone ``/v1`` is not a path.
_PATH = re.compile(r"(?<![\w.~-])(?:~|[A-Za-z]:)?(?:[/\\][\w.@+-]+){2,}[/\\]?")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s'\",;]+")
_AUTH_HEADER = re.compile(r"(?i)\b(authorization|x-api-key|api-key)(['\"]?\s*[:=]\s*['\"]?)(?!bearer\b|basic\b)[^\s'\",;]+")
_SECRET_PARAM = re.compile(r"(?i)([?&;]|\b)((?:api[_-]?)?key|token|access_token|secret|password)=[^&\s'\"]+")


def without_paths(text: str) -> str:
    """``text`` with each absolute filesystem path cut to its last segment (the file name)."""
    return _PATH.sub(lambda m: re.split(r"[/\\]", m.group().rstrip("/\\"))[-1], text)


def without_credentials(text: str) -> str:
    """``text`` with bearer tokens, Authorization-like header values and secret query parameters replaced."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}={REDACTED}", text)


class RedactingFilter(logging.Filter):
    """A handler filter for ``hallmark serve``: uvicorn's access lines lose their query string (the path alone
    says what was called), and any other line has credentials masked. Attached to handlers, not loggers, so
    records that propagate from child loggers pass through it too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            record.args = (client, method, str(path).split("?", 1)[0], version, status)
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's own problem to report; leave it as it is
            return True
        cleaned = without_credentials(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
