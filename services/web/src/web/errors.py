"""Error pages in the site's look, with the request id; never a stack trace. The servicekit
handlers answer JSON for APIs; the site answers HTML for the same cases."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicekit.logging import get_logger

from .gateway import ApiFailure
from .site import FormExpired, LoginRequired, Site, get_site, get_web, login_url

log = get_logger(__name__)


async def _site(request: Request) -> Site | None:
    try:
        return await get_site(request, get_web(request))
    except Exception:  # the error page must render even when sessions are unavailable
        log.exception("error_page_without_session")
        return None


async def error_page(request: Request, status: int, kind: str, detail: str | None = None) -> Response:
    site = await _site(request)
    if site is None:
        request_id = request.scope.get("state", {}).get("request_id", "")
        return PlainTextResponse(f"Error {status} (request {request_id})", status_code=status)
    return site.render("errors/error.html", status=status, status_code=status, kind=kind, detail=detail,
                       request_id=site.request_id)  # fmt: skip


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        site = await _site(request)
        target = login_url(exc.next_url, exc.expired)
        if site is None:
            return RedirectResponse(target, status_code=303)
        if request.headers.get("hx-request"):
            # htmx follows a redirect inside the swap; a full page load is what the person needs.
            return site.finish(Response(status_code=204, headers={"HX-Redirect": target}))
        return site.redirect(target)

    @app.exception_handler(FormExpired)
    async def _expired(request: Request, exc: FormExpired) -> Response:
        return await error_page(request, 403, "form_expired")

    @app.exception_handler(ApiFailure)
    async def _api(request: Request, exc: ApiFailure) -> Response:
        if exc.status == 401:
            return await _login(request, LoginRequired(str(request.url.path)))
        status = exc.status if exc.status in (403, 404, 409, 429, 503, 504) else 502
        kind = {403: "forbidden", 404: "not_found", 429: "rate_limited"}.get(status, "unavailable")
        if exc.status == 409:
            status, kind = 409, "conflict"
        return await error_page(request, status, kind, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        kind = {403: "forbidden", 404: "not_found", 405: "not_found"}.get(exc.status_code, "bad_request")
        response = await error_page(request, exc.status_code, kind)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # A hand-edited URL (?page=abc) or a form missing fields: a page, not a JSON body.
        return await error_page(request, 400, "bad_request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        try:
            return await error_page(request, 500, "internal")
        except Exception:
            request_id = request.scope.get("state", {}).get("request_id", "")
            return HTMLResponse(f"<h1>Error 500</h1><p>Request {request_id}</p>", status_code=500)
