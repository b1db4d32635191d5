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
