"""Structured logs (``HALLMARK_LOG_FORMAT=json``): one JSON object per line with the time, level, logger, message
and the request id (``x-request-id``) of the request the line was logged for, so a log pipeline can join a
replica's lines to a client's request and to its audit entries."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from . import request_id


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
                "request_id": getattr(record, "request_id", None) or request_id.current()}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
