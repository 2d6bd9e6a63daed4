"""The one way the gateway is put behind uvicorn (``hallmark serve`` and the tests alike), so that what every
server must do is decided here once rather than remembered at each call site."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn


def server_config(app: Any, *, host: str, port: int, **options: Any) -> "uvicorn.Config":
    """A uvicorn Config for ``app``. The ``server`` banner is always off: naming the server and its version only
    helps someone matching it against known vulnerabilities. ``server_header`` is not an option here on purpose:
    passing it is a TypeError."""
    import uvicorn  # imported when serving, not when the API package is merely imported

    return uvicorn.Config(app, host=host, port=port, server_header=False, **options)
