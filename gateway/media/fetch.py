"""Fetching a file a member of the public names by URL, without letting the URL reach inside the operator's network
(SSRF).

Each hop: only ``http``/``https``; the host name is resolved once, every address it resolves to must be public (not
private, loopback, link-local — which holds the cloud metadata address 169.254.169.254 —, multicast, reserved,
shared or unspecified) unless an operator allow-listed its network, and the connection is made to that very address
(the name is never resolved again, so a rebinding name cannot switch to another address between the check and the
connection); TLS still checks the certificate against the name and sends it as SNI, and the Host header carries it.
Redirects are followed by hand, each target checked like the first URL. The body is capped in size and time while it
streams, and what it is comes from its bytes (``sniff_mime``), never from the URL or the Content-Type."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urljoin, urlsplit

import httpcore

from ..core.errors import InvalidRequest, PayloadTooLarge
from .sniff import describe_supported, sniff_mime

__all__ = ["UrlFetcher", "parse_networks"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_REDIRECTS = (301, 302, 303, 307, 308)


def parse_networks(raw: str) -> list[IPNetwork]:
    """``"127.0.0.1/32, 10.0.0.0/8"`` → networks."""
    return [ipaddress.ip_network(item.strip(), strict=False) for item in raw.split(",") if item.strip()]


DNS_TIMEOUT_S = 5.0


def _resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host``, within ``DNS_TIMEOUT_S``: getaddrinfo has no timeout of its own, and a name whose
    servers never answer would otherwise hold a request (and a worker thread) for as long as the resolver retries.
    The lookup runs on a daemon thread that is left behind if it overruns."""
    found: list = []
    failed: list[Exception] = []

    def lookup() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except Exception as exc:  # handed to the caller below
            failed.append(exc)

    worker = threading.Thread(target=lookup, name="hallmark-resolve", daemon=True)
    worker.start()
    worker.join(DNS_TIMEOUT_S)
    if worker.is_alive():
        raise OSError(f"no DNS answer for {host!r} within {DNS_TIMEOUT_S:g} s")
    if failed:
        raise failed[0]
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def _refused(message: str) -> InvalidRequest:
    return InvalidRequest(message, param="url", code="url_refused")


def _internal(address: IPAddress) -> bool:
    """An address a public fetch must not reach. ``is_global`` is False for every private, loopback, link-local,
    shared (100.64/10, where Alibaba's metadata lives), reserved and documentation range; multicast is named because
    some multicast ranges count as global."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (not address.is_global or address.is_multicast or address.is_private or address.is_loopback
            or address.is_link_local or address.is_reserved or address.is_unspecified)


class _PinnedBackend(httpcore.SyncBackend):
    """Connects to the address checked beforehand, whatever host name the request carries (which still goes into
    the Host header, the TLS SNI and the certificate check)."""

    def __init__(self, address: str) -> None:
        self._address = address

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return super().connect_tcp(self._address, port, timeout=timeout, local_address=local_address,
                                   socket_options=socket_options)


class UrlFetcher:
    def __init__(self, *, max_bytes: int, allow: Iterable[IPNetwork] = (), connect_timeout: float = 5.0,
                 read_timeout: float = 10.0, total_timeout: float = 30.0, max_redirects: int = 3,
                 resolver: Resolver = _resolve) -> None:
        self._max_bytes = max_bytes
        self._allow: Sequence[IPNetwork] = tuple(allow)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._total_timeout = total_timeout
        self._max_redirects = max_redirects
        self._resolve = resolver
        self._ssl = ssl.create_default_context()

    def fetch(self, url: str) -> bytes:
        """The body of ``url`` (after at most ``max_redirects`` redirects); InvalidRequest (param ``url``) with the
        reason when it is refused or cannot be fetched, PayloadTooLarge past the upload limit."""
        deadline = time.monotonic() + self._total_timeout
        for _hop in range(self._max_redirects + 1):
            target, address = self._check(url)
            status, location, body = self._get(url, target, address, deadline)
            if status in _REDIRECTS:
                if not location:
                    raise _refused(f"The server answered {status} without a Location.")
                url = urljoin(url, location)
                continue
            if status != 200:
                raise _refused(f"The server answered HTTP {status}.")
            if sniff_mime(body) is None:
                raise InvalidRequest(f"'url' does not lead to a supported video or image ({describe_supported()}).",
                                     param="url", code="unsupported_media_type")
            return body
        raise _refused(f"More than {self._max_redirects} redirects.")

    def _check(self, url: str) -> tuple[tuple[str, str, int], str]:
        """(scheme, host, port) of ``url`` and the one address to connect to, or a refusal saying why."""
        if len(url) > 2048:
            raise _refused("The URL is longer than 2048 characters.")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise _refused(f"Not a valid URL: {exc}.") from exc
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise _refused("Only http:// and https:// URLs can be checked.")
        host = parts.hostname
        if not host:
            raise _refused("The URL names no host.")
        if parts.username or parts.password:
            raise _refused("URLs with a user name or password are not fetched.")
        port = port or (443 if scheme == "https" else 80)
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self._resolve(host, port)]
            except (OSError, UnicodeError) as exc:
                raise _refused(f"The host {host!r} could not be resolved.") from exc
        if not addresses:
            raise _refused(f"The host {host!r} could not be resolved.")
        # Every address the name gives must be allowed: a name that mixes a public and an internal address would
        # otherwise be a coin toss away from the internal one.
        for address in addresses:
            if _internal(address) and not any(address in net for net in self._allow
                                               if net.version == address.version):
                raise _refused(f"The host {host!r} is a private, loopback, link-local or otherwise internal address "
                               f"({address}); such addresses are not fetched.")
        return (scheme, host, port), str(addresses[0])

    def _get(self, url: str, target: tuple[str, str, int], address: str,
             deadline: float) -> tuple[int, str | None, bytes]:
        scheme, host, port = target
        default = 443 if scheme == "https" else 80
        host_header = (f"[{host}]" if ":" in host else host) + ("" if port == default else f":{port}")
        timeouts = {"connect": self._connect_timeout, "read": self._read_timeout, "write": self._read_timeout,
                    "pool": self._connect_timeout}
        try:
            with httpcore.ConnectionPool(ssl_context=self._ssl, network_backend=_PinnedBackend(address),
                                         max_connections=1, retries=0) as pool:
                with pool.stream("GET", url, headers=[("Host", host_header), ("Accept", "video/*, image/*"),
                                                      ("User-Agent", "Hallmark-provenance-check")],
                                 extensions={"timeout": timeouts}) as response:
                    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
                    if response.status in _REDIRECTS or response.status != 200:
                        return response.status, headers.get("location"), b""
                    length = headers.get("content-length", "")
                    if length.isdigit() and int(length) > self._max_bytes:
                        raise self._too_large()
                    chunks, size = [], 0
                    for chunk in response.iter_stream():
                        size += len(chunk)
                        if size > self._max_bytes:
                            raise self._too_large()
                        if time.monotonic() > deadline:
                            raise _refused(f"Fetching the URL took longer than {self._total_timeout:g} seconds.")
                        chunks.append(chunk)
                    return response.status, None, b"".join(chunks)
        except httpcore.TimeoutException as exc:
            raise _refused("The server did not answer in time.") from exc
        except (httpcore.ConnectError, httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol,
                httpcore.LocalProtocolError, ssl.SSLError, OSError) as exc:
            raise _refused(f"The URL could not be fetched ({type(exc).__name__}).") from exc

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The file at 'url' is larger than the {self._max_bytes} byte upload limit.",
                               param="url")
