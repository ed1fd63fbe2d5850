"""RFC 3161 §3.4 over HTTP: POST application/timestamp-query, get timestamp-reply.

Routes: `POST /` time-stamps; `GET /healthz` reports liveness. Errors of the
HTTP layer get HTTP status codes (405 wrong method, 415 wrong content type,
413 body over 64 KiB); a body that is not a valid TimeStampReq still gets a
200 with a rejection TimeStampResp, as RFC 3161 asks.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from notary.tsa.engine import TimeStampAuthority

log = logging.getLogger(__name__)

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_BODY = 64 * 1024

TSA_KEY = web.AppKey("tsa", TimeStampAuthority)
EXECUTOR_KEY = web.AppKey("executor", ThreadPoolExecutor)


async def _timestamp(request: web.Request) -> web.Response:
    if request.content_type != QUERY_TYPE:
        raise web.HTTPUnsupportedMediaType(
            text=f"Content-Type must be {QUERY_TYPE}, got {request.content_type or 'none'}\n"
        )
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    body = await request.read()  # aiohttp enforces client_max_size for chunked bodies
    tsa = request.app[TSA_KEY]
    executor = request.app.get(EXECUTOR_KEY)
    if executor is None:
        reply = tsa.respond(body)
    else:
        reply = await asyncio.get_running_loop().run_in_executor(executor, tsa.respond, body)
    return web.Response(body=reply, content_type=REPLY_TYPE)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "policy": request.app[TSA_KEY].config.policy})


def make_app(tsa: TimeStampAuthority, *, signing_threads: int = 0) -> web.Application:
    """The aiohttp application.

    With `signing_threads` > 0, tokens are made in a thread pool (for slow keys
    such as RSA-3072, whose signing releases the GIL); otherwise on the loop.
    """
    app = web.Application(client_max_size=MAX_BODY)
    app[TSA_KEY] = tsa
    if signing_threads > 0:
        executor = ThreadPoolExecutor(signing_threads, thread_name_prefix="tsa-sign")
        app[EXECUTOR_KEY] = executor

        async def _shutdown(_: web.Application) -> None:
            executor.shutdown(wait=True)

        app.on_cleanup.append(_shutdown)
    app.router.add_post("/", _timestamp)
    app.router.add_get("/healthz", _healthz)
    return app


def parse_listen(listen: str) -> tuple[str, int]:
    """Split HOST:PORT (IPv6 as [::1]:PORT)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen must be HOST:PORT, got {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)
