"""Logging in and out, and the language switch (present on every page)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..site import Form, SiteDep, safe_next

router = APIRouter()


@router.get("/login", include_in_schema=False)
async def login_page(
    site: SiteDep, next: str = Query("/", max_length=2000), expired: bool = False
) -> Response:
    if site.user is not None and not expired:
        return site.redirect(safe_next(next))
    return site.render("account/login.html", next=safe_next(next), email="", errors={}, expired=expired)


@router.post("/login", include_in_schema=False)
async def login(site: SiteDep, form: Form) -> Response:
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    next_url = safe_next(str(form.get("next", "/")))
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = site.gettext("Enter your email address.")
    if not password:
        errors["password"] = site.gettext("Enter your password.")
    if not errors:
        try:
            tokens = await site.client(auth=False).gateway_login(body={"email": email, "password": password})
        except ApiFailure as failure:
            if failure.status == 429:
                errors["__all__"] = site.gettext("Too many attempts. Wait a few minutes and try again.")
            elif failure.status in (400, 401, 403, 422):
                errors["__all__"] = site.gettext("This email and password do not match an account.")
            else:
                raise
        else:
            await site.sign_in(tokens)
            site.flash(site.gettext("Welcome, %(name)s.") % {"name": tokens["user"]["display_name"]})
            return site.redirect(next_url)
    return site.render(
        "account/login.html", status=422, next=next_url, email=email, errors=errors, expired=False
    )


@router.post("/logout", include_in_schema=False)
async def logout(site: SiteDep, form: Form) -> Response:
    await site.sign_out()
    site.flash(site.gettext("You are logged out."), "info")
    return site.redirect("/")


@router.get("/lang/{locale}", include_in_schema=False)
async def switch_language(site: SiteDep, locale: str, next: str = Query("/", max_length=2000)) -> Response:
    if locale in site.settings.locales:
        site.set_locale(locale)
        if site.user is not None and site.user.get("locale") != locale:
            # The account remembers it too (emails follow the account's language).
            try:
                await site.client().gateway_update_me(body={"locale": locale})
                site.user["locale"] = locale
                await site.web.sessions.put(site.session)  # type: ignore[arg-type]
            except ApiFailure:
                pass  # the cookie alone still switches the site
    return site.redirect(safe_next(next))
