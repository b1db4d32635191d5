"""The app factory: a service's app.py is settings + routers + handlers + indexes + tasks.

app = create_service_app(settings, title="Campaigns", routers=[api.router],
                         consumers=[handlers.handlers], indexes=store.INDEXES,
                         background=[scheduler.run])
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.middleware import Middleware

from .auth import JwksVerifier
from .bus import INBOX_INDEXES, Bus, Handlers
from .components import Components, component
from .errors import install_error_handlers
from .events import Contracts
from .health import router as health_router
from .idempotency import IDEMPOTENCY_INDEXES, Idempotency
from .logging import RequestIdMiddleware, configure_logging, get_logger
from .metrics import MetricsMiddleware, metrics_endpoint
from .mongo import Index, Mongo
from .openapi import install_error_document
from .outbox import OUTBOX_INDEXES, Outbox
from .settings import ServiceSettings

__all__ = [
    "BackgroundTask",
    "ContextDep",
    "MongoDep",
    "ServiceContext",
    "component",
    "create_service_app",
    "get_ctx",
    "run",
]

log = get_logger(__name__)
C = TypeVar("C")

BackgroundTask = Callable[["ServiceContext", asyncio.Event], Awaitable[None]]


@dataclass
class ServiceContext:
    """Everything a running service holds; `request.app.state.ctx` in endpoints.

    A service's own objects are registered by type (`ctx.provide(store)`) and reach routes as
    typed dependencies (`component(Store)`, see components.py)."""

    settings: Any
    mongo: Mongo | None
    bus: Bus | None
    outbox: Outbox | None
    verifier: JwksVerifier
    contracts: Contracts | None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    readiness_checks: dict[str, Callable[[], Awaitable[bool]]] = field(default_factory=dict)
    components: Components = field(default_factory=Components)

    def provide(self, instance: C, as_type: type | None = None) -> C:
        """Register a component under its type (or `as_type`); returns it."""
        return self.components.provide(instance, as_type)

    def get(self, kind: type[C]) -> C:
        """The component of type `kind` (LookupError naming what is known if there is none)."""
        return self.components.get(kind)


def get_ctx(request: Request) -> ServiceContext:
    return request.app.state.ctx


ContextDep = Annotated[ServiceContext, Depends(get_ctx)]
MongoDep = Annotated[Mongo, Depends(component(Mongo))]
"""The service's Mongo (for `mongo.transact` in a use case the route calls)."""


def _with_kit_indexes(indexes: Sequence[Index]) -> list[Index]:
    # Plumbing indexes every service gets; a service that still declares one on the same keys
    # keeps its own (two declarations with other options would fail at start-up).
    declared = {(i.collection, tuple(i.keys)) for i in indexes}
    kit = [
        i
        for i in (*OUTBOX_INDEXES, *INBOX_INDEXES, *IDEMPOTENCY_INDEXES)
        if (i.collection, tuple(i.keys)) not in declared
    ]
    return [*kit, *indexes]


def _operation_ids(routes: Sequence[Any]) -> None:
    # Stable, readable operation ids (the gateway merges every service's OpenAPI; clients are
    # generated from it). Set on the routers' own routes before they are included: FastAPI copies
    # an included route's settings when it first resolves it.
    for route in routes:
        if isinstance(route, APIRoute):
            route.operation_id = route.operation_id or route.name
        elif hasattr(route, "original_router"):  # a router included in this router
            _operation_ids(route.original_router.routes)


_heap_frozen = False


def freeze_startup_heap() -> None:
    """Move what start-up made (modules, routes, schemas: most of the heap, alive as long as the
    process) out of the cyclic collector's reach, so a full collection no longer walks it: one
    paused a process for 56-70 ms here, a tail on every request and event in flight. Once per
    process: a test process starts many apps, and what is frozen is never collected."""
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    consumers: Sequence[Handlers] = (),
    indexes: Sequence[Index] = (),
    collections: Sequence[str] = (),
    background: Sequence[BackgroundTask] = (),
    on_startup: Sequence[Callable[[ServiceContext], Awaitable[None]]] = (),
    on_shutdown: Sequence[Callable[[ServiceContext], Awaitable[None]]] = (),
    middleware: Sequence[Middleware] = (),
    own_openapi: bool = False,
    use_mongo: bool = True,
    use_bus: bool = True,
    version: str = "0.1.0",
) -> FastAPI:
    """`middleware` runs inside the request-id and metrics layers (so its answers carry the
    request id and are counted), outermost first. `own_openapi`: the service's routers serve
    `/openapi.json`, `/docs` and `/redoc` themselves (the gateway serves a merged document)."""
    contracts = Contracts(settings.contracts_dir or None) if settings.validate_events else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        mongo = Mongo(settings) if use_mongo else None
        outbox = Outbox(mongo, contracts) if mongo is not None else None
        bus = Bus(settings) if use_bus else None
        ctx = ServiceContext(
            settings=settings,
            mongo=mongo,
            bus=bus,
            outbox=outbox,
            verifier=JwksVerifier(settings.jwks_url, settings.jwt_issuer, settings.jwt_audience),
            contracts=contracts,
        )
        ctx.provide(ctx)
        ctx.provide(settings)  # as the service's own Settings class
        ctx.provide(settings, as_type=ServiceSettings)
        ctx.provide(ctx.verifier)
        for part in (mongo, outbox, bus, contracts):
            if part is not None:
                ctx.provide(part)
        if mongo is not None:
            ctx.provide(Idempotency(mongo))
        app.state.ctx = ctx
        tasks: list[asyncio.Task] = []
        consumer_tasks: list[asyncio.Task] = []
        if mongo is not None:
            await mongo.connect(_with_kit_indexes(indexes), collections)
        for hook in on_startup:
            await hook(ctx)
        if bus is not None:
            # The broker may be down at start: the service still serves HTTP and writes its
            # outbox; the relay and consumers start once the connection is up.
            tasks.append(asyncio.create_task(bus.connect(), name="bus-connect"))
            if outbox is not None:
                tasks.append(asyncio.create_task(outbox.run_relay(bus, ctx.stop), name="outbox-relay"))
            for handlers in consumers:
                assert mongo is not None, "consumers need Mongo for their inbox"
                consumer = bus.consumer(handlers, mongo, contracts)
                consumer_tasks.append(
                    asyncio.create_task(consumer.start(), name=f"consumer-{handlers.queue}")
                )
            tasks.extend(consumer_tasks)

            async def consumers_ready() -> bool:
                return all(t.done() and not t.cancelled() and t.exception() is None for t in consumer_tasks)

            ctx.readiness_checks["consumers"] = consumers_ready
        for task_fn in background:
            tasks.append(
                asyncio.create_task(task_fn(ctx, ctx.stop), name=getattr(task_fn, "__name__", "task"))
            )
        freeze_startup_heap()
        log.info("service_started", port=settings.http_port)
        try:
            yield
        finally:
            ctx.stop.set()
            if outbox is not None:
                outbox._wake.set()
            for hook in on_shutdown:
                with contextlib.suppress(Exception):
                    await hook(ctx)
            done, pending = await asyncio.wait(tasks, timeout=2) if tasks else (set(), set())
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("task_failed", task=task.get_name(), error=repr(task.exception()))
            if bus is not None:
                with contextlib.suppress(Exception):
                    await bus.close()
            if mongo is not None:
                await mongo.close()
            await ctx.verifier.close()
            log.info("service_stopped")

    docs = {"openapi_url": None, "docs_url": None, "redoc_url": None} if own_openapi else {}
    app = FastAPI(title=title, version=version, lifespan=lifespan, **docs)
    install_error_handlers(app)
    _operation_ids(health_router.routes)
    app.include_router(health_router)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    for router in routers:
        _operation_ids(router.routes)
        app.include_router(router)
    install_error_document(app)
    for layer in reversed(middleware):
        app.add_middleware(layer.cls, *layer.args, **layer.kwargs)
    # Outermost last: request id is bound before metrics and handlers run.
    app.add_middleware(MetricsMiddleware, service=settings.service_name)
    app.add_middleware(RequestIdMiddleware, service=settings.service_name)
    return app


def run(app_import: str, settings: ServiceSettings) -> None:
    """`python -m <service>`: uvicorn on the configured host and port (one process per replica;
    exit 0 after a graceful stop; replicas may share the port, see serving.py)."""
    from .serving import serve

    serve(app_import, settings)
