"""`/livez` (the process answers) and `/readyz` (its Mongo and broker answer)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/livez", include_in_schema=False)
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    ctx = request.app.state.ctx
    checks: dict[str, bool] = {}
    if ctx.mongo is not None:
        checks["mongo"] = await ctx.mongo.ping()
    if ctx.bus is not None:
        checks["broker"] = ctx.bus.ready
    for name, check in ctx.readiness_checks.items():
        checks[name] = await check()
    ok = all(checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )
