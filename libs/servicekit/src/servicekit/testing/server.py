"""Serve an ASGI app over real HTTP inside the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn

from .procs import free_port


@asynccontextmanager
async def serve(
    app: object, port: int | None = None, ready_path: str | None = "/readyz"
) -> AsyncIterator[str]:
    """Run `app` with uvicorn on 127.0.0.1; yields its base URL once `ready_path` answers 200."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    base = f"http://127.0.0.1:{port}"
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.02)
        if ready_path:
            await wait_ready(base + ready_path)
        yield base
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=20)


async def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    last = ""
    async with httpx.AsyncClient(timeout=2) as client:
        while asyncio.get_running_loop().time() < deadline:
            try:
                response = await client.get(url)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout}s: {last}")
