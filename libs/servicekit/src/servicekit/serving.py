"""`python -m <service>`: one uvicorn process per replica, a clean exit on SIGTERM or SIGINT.

* Exit status 0 after a graceful stop. uvicorn finishes in-flight requests and the lifespan
  shutdown, then re-raises the signal it caught so the default action kills the process; a
  supervisor then sees "terminated by SIGTERM" and cannot tell a clean stop from a kill. With
  a no-op handler in place the re-raised signal does nothing and the process returns 0.
* `HTTP_REUSE_PORT`: several replicas listen on one port (SO_REUSEPORT) and the kernel spreads
  new connections among them, so neither clients nor the gateway know how many there are. Off
  by default: on a shared machine a second stack that happened to pick the same port would
  otherwise silently share it instead of failing.
"""

from __future__ import annotations

import signal
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import ServiceSettings


def reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(app_import: str, settings: ServiceSettings) -> None:
    import uvicorn

    config = uvicorn.Config(
        app_import,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,  # RequestIdMiddleware logs every request with its id
        proxy_headers=True,
    )
    sockets = (
        [reuse_port_socket(settings.http_host, settings.http_port)] if settings.http_reuse_port else None
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _sig, _frame: None)
    uvicorn.Server(config).run(sockets=sockets)


def serve_granian(app_import: str, settings: ServiceSettings) -> None:
    """The same contract on granian (a Rust HTTP/1.1 server; the app runs on this process's
    loop), for a service whose own work per request is small enough that the server's share
    shows (the gateway). In-flight requests finish and the lifespan shuts down on SIGTERM or
    SIGINT, then the process returns 0. Granian always binds with SO_REUSEPORT on Linux, so
    without `HTTP_REUSE_PORT` the port is first bound plainly: a port in use still fails at
    start instead of being shared with whatever holds it. Client addresses from
    `X-Forwarded-For` are trusted from `FORWARDED_ALLOW_IPS` only, as uvicorn does."""
    import asyncio
    import importlib
    import logging
    import os

    import uvloop
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server.embed import Server
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    if not settings.http_reuse_port:
        probe = socket.socket(socket.AF_INET6 if ":" in settings.http_host else socket.AF_INET)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.http_host, settings.http_port))
        except OSError as exc:
            raise SystemExit(f"cannot listen on {settings.http_host}:{settings.http_port}: {exc}") from exc
        finally:
            probe.close()
    module, _, name = app_import.partition(":")
    app = ProxyHeadersMiddleware(
        getattr(importlib.import_module(module), name),
        trusted_hosts=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    )
    level = settings.log_level.lower()
    server = Server(
        app,
        address=settings.http_host,
        port=settings.http_port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        backlog=2048,
        log_level=LogLevels(level) if level in LogLevels.__members__ else LogLevels.info,
    )
    # Granian says its embedded mode is experimental each start; that is known here.
    logging.getLogger("_granian").addFilter(lambda record: "experimental" not in record.getMessage())

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.signal_handler_interrupt)
        await server.serve()

    uvloop.run(main())
    if server.interrupt_children:  # the app failed to start, or its worker died
        raise SystemExit(1)
