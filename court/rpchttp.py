"""One JSON-RPC request over HTTP(S), bounded: the transport of both chain clients.

The court's client (:mod:`court.chainrpc`) and the gateway's
(:mod:`gateway.anchor.transport`) send their requests through :func:`post`,
which is standard library only (``http.client``), so ``court`` stays
installable alone. A chain node may be hostile, or sit behind a hostile
network on plain http; :func:`post` bounds what it can make the client do:

* **One deadline per request.** Connecting, the TLS handshake, sending, the
  status line, the headers and the body together finish within ``timeout``
  seconds: every socket operation waits at most for the time left (the
  resolution of the host name is the system's, not bounded here). (The time-outs of urllib and
  requests apply to each read, so a node sending a byte now and then holds
  them for as long as it likes.)
* **A size cap.** An answer longer than ``max_bytes`` is refused; a longer
  ``Content-Length`` is refused before the body is read.
* **No redirects.** Any status other than 2xx, 3xx included, is an error:
  the request, which may carry a signed transaction, goes to the URL given
  and nowhere else.
* **Nothing from the environment.** Proxy variables are not used; a user and
  password in the URL are sent as HTTP basic authentication.
* **Discreet.** Errors name the node by :func:`court.urls.public_url` only.
* **Stoppable.** With ``abort`` (an event), the request ends within
  :data:`ABORT_SLICE` seconds of the event being set (the gateway's
  anchoring worker stopping); a TCP connection under way is bounded by the
  deadline only.

Also the one definition of a JSON-RPC quantity's text (:data:`QUANTITY`).
"""

from __future__ import annotations

import base64
import http.client
import io
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from court.errors import CourtError
from court.report.escape import escape_text
from court.urls import public_url

__all__ = [
    "ABORT_SLICE",
    "QUANTITY",
    "RpcAnswerTooLarge",
    "RpcHttpStatus",
    "RpcTransportError",
    "RpcUnreachable",
    "check_url",
    "post",
]

#: A JSON-RPC quantity: ``0x`` and at most 64 hex digits (256 bits), no leading zero.
QUANTITY: Final = re.compile(r"0x(?:0|[1-9a-fA-F][0-9a-fA-F]{0,63})")
#: The longest a socket read waits before looking at ``abort`` again, seconds.
ABORT_SLICE: Final = 0.1
_DETAIL_LIMIT: Final = 160


class RpcTransportError(CourtError):
    """The request could not be made, or its answer is refused; the text names no URL."""


class RpcUnreachable(RpcTransportError):
    """No connection, or no complete answer before the deadline (or ``abort``)."""


class RpcHttpStatus(RpcTransportError):
    """The node answered a status other than 2xx (a redirect included)."""

    def __init__(self, status: int) -> None:
        redirect = " (a redirect: not followed)" if 300 <= status < 400 else ""
        super().__init__(f"HTTP {status}{redirect}")
        self.status = status


class RpcAnswerTooLarge(RpcTransportError):
    """The answer is longer than the cap."""


class _Aborted(Exception):
    pass


def _detail(exc: BaseException) -> str:
    text = escape_text(str(exc)) or exc.__class__.__name__
    return text if len(text) <= _DETAIL_LIMIT else text[:_DETAIL_LIMIT] + "..."


def _left(deadline: float, abort: threading.Event | None) -> float:
    if abort is not None and abort.is_set():
        raise _Aborted
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


@dataclass(frozen=True)
class _Target:
    https: bool
    host: str
    port: int | None
    path: str
    authorization: str | None


def _target(url: object) -> _Target:
    if not isinstance(url, str):
        raise RpcTransportError("the URL is not a string")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise RpcTransportError("the URL's host or port is not valid") from None
    if parts.scheme not in ("http", "https"):
        raise RpcTransportError(f"{public_url(url)} is not an http:// or https:// URL")
    if not host:
        raise RpcTransportError("the URL names no host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if any(c <= " " or c == "\x7f" for c in path):  # http.client would quote the path
        raise RpcTransportError(f"the path of {public_url(url)} has spaces or control characters")
    authorization = None
    if parts.username is not None or parts.password is not None:
        user = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(user.encode()).decode("ascii")
    return _Target(parts.scheme == "https", host, port, path, authorization)


def check_url(url: object) -> None:
    """Raise :class:`RpcTransportError` unless ``url`` is an http(s) URL :func:`post` can use."""
    _target(url)


class _Reader(io.RawIOBase):
    """Reads of the socket, each waiting at most for the time left."""

    def __init__(self, sock: socket.socket, deadline: float, abort: threading.Event | None):
        super().__init__()
        self._sock, self._deadline, self._abort = sock, deadline, abort

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            left = _left(self._deadline, self._abort)
            self._sock.settimeout(left if self._abort is None else min(left, ABORT_SLICE))
            try:
                return self._sock.recv_into(buffer)
            except TimeoutError:
                continue  # the deadline or abort decides


class _Socket:
    """What ``http.client`` uses of the socket, bounded by the deadline. Closing is left
    to :func:`post`, which closes the socket itself when the request is done."""

    def __init__(self, sock: socket.socket, deadline: float, abort: threading.Event | None):
        self._sock, self._deadline, self._abort = sock, deadline, abort

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(_left(self._deadline, self._abort))
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self._sock, self._deadline, self._abort))

    def close(self) -> None:
        pass


class _HTTP(http.client.HTTPConnection):
    """A connection whose every step (TCP, TLS, sending, reading) is bounded by ``deadline``."""

    deadline: float = 0.0
    abort: threading.Event | None = None
    tls: ssl.SSLContext | None = None
    raw: socket.socket | None = None

    def connect(self) -> None:
        self.timeout = _left(self.deadline, self.abort)
        super().connect()  # TCP
        self.raw = self.sock
        if self.tls is not None:
            self.raw = self.tls.wrap_socket(
                self.sock, server_hostname=self.host, do_handshake_on_connect=False
            )
            while True:  # the handshake, in slices against the deadline
                self.raw.settimeout(min(_left(self.deadline, self.abort), ABORT_SLICE))
                try:
                    self.raw.do_handshake()
                    break
                except TimeoutError:
                    continue
        self.sock = _Socket(self.raw, self.deadline, self.abort)


class _HTTPS(_HTTP):
    default_port = http.client.HTTPS_PORT


def post(
    url: str,
    body: bytes,
    *,
    timeout: float,
    max_bytes: int,
    abort: threading.Event | None = None,
    tls: ssl.SSLContext | None = None,
) -> bytes:
    """POST ``body`` (JSON) to ``url``; the answer's body. Raises
    :class:`RpcUnreachable`, :class:`RpcHttpStatus`, :class:`RpcAnswerTooLarge`, or
    :class:`RpcTransportError` for a URL it cannot use (see the module docstring).
    ``tls``: the TLS context of an https URL (default: the system's trust store)."""
    target = _target(url)
    deadline = time.monotonic() + timeout
    conn = (_HTTPS if target.https else _HTTP)(target.host, target.port)
    conn.deadline, conn.abort = deadline, abort
    if target.https:
        conn.tls = tls or ssl.create_default_context()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Connection": "close",  # one request per connection
    }
    if target.authorization is not None:
        headers["Authorization"] = target.authorization
    try:
        conn.request("POST", target.path, body, headers)
        reply = conn.getresponse()
        try:
            if not 200 <= reply.status < 300:
                raise RpcHttpStatus(reply.status)
            if reply.length is not None and reply.length > max_bytes:
                raise RpcAnswerTooLarge(f"the answer announces {reply.length} bytes")
            data = reply.read(max_bytes + 1)
        finally:
            reply.close()
    except TimeoutError:
        raise RpcUnreachable(f"no complete answer within {timeout:g} s") from None
    except _Aborted:
        raise RpcUnreachable("the request was abandoned: the client is stopping") from None
    except http.client.InvalidURL:  # its message would quote the URL
        raise RpcTransportError("the URL has characters HTTP does not allow") from None
    except (OSError, http.client.HTTPException) as exc:
        raise RpcUnreachable(f"{exc.__class__.__name__}: {_detail(exc)}") from None
    finally:
        if conn.raw is not None:
            conn.raw.close()
        conn.close()
    if len(data) > max_bytes:
        raise RpcAnswerTooLarge(f"the answer exceeds {max_bytes} bytes")
    return data
