"""The account: sign up, verify the address (the emailed link lands here), forgotten password and
reset (emailed link), profile, change password, delete.

Every page calls the gateway's `/api/v1/auth/...`; every rule (password strength, who may do
what) stays there. Field errors of the API are shown beside the fields, in the site's language
when the site knows the rule (the API's own English text otherwise); passwords are never echoed.

The verification link: a GET only shows a "confirm my address" button that POSTs, because mail
scanners pre-open links and the token works once (a scanner would use it up and the person would
then see "already used"). The reset link does not need that (the token is used only by the POST
that sets the new password).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..site import Form, SignedIn, Site, SiteDep

router = APIRouter()

Token = Query("", max_length=2000)
LANGUAGES = [("en", "English"), ("fr", "Français")]
PASSWORD_MIN = 10


def _text(form: Any, name: str, limit: int = 300) -> str:
    return str(form.get(name, "")).strip()[:limit]


def password_rules(site: Site) -> str:
    return site.gettext(
        "At least 10 characters. Not your email address, not your name, not a well-known password."
    )


def _password_problem(site: Site, message: str) -> str:
    """The API's password rule, in the site's language."""
    known = {
        "must be at least": site.gettext("Use at least 10 characters."),
        "must be at most": site.gettext("Use at most 256 characters."),
        "too easy to guess": site.gettext("This password is too easy to guess. Choose another one."),
        "your email": site.gettext("Do not use your email address as your password."),
        "your name": site.gettext("Do not use your name as your password."),
    }
    for part, text in known.items():
        if part in message:
            return text
    return message


def _field_errors(site: Site, failure: ApiFailure, rename: dict[str, str] | None = None) -> dict[str, str]:
    """The API's field errors keyed by this form's field names, translated when the site knows
    the rule."""
    rename = rename or {}
    generic = {
        "email": site.gettext("Enter a valid email address."),
        "display_name": site.gettext("Enter a name of 1 to 100 characters."),
        "postcode": site.gettext("Enter a postcode of 2 to 12 letters, digits, spaces or dashes."),
        "locale": site.gettext("Choose English or French."),
    }
    errors: dict[str, str] = {}
    for name, message in failure.field_errors().items():
        target = rename.get(name, name)
        if name == "password" or target in ("password", "new_password"):
            text = _password_problem(site, message)
        else:
            text = generic.get(name, message)
        errors.setdefault(target, text)
    if not errors:
        errors["__all__"] = failure.message
    return errors


# -- sign up ------------------------------------------------------------------------------------


def _signup(site: Site, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
    return site.render(
        "account/signup.html", status=status, values=values, errors=errors,
        languages=LANGUAGES, rules=password_rules(site),
    )  # fmt: skip


@router.get("/signup", include_in_schema=False)
async def signup_page(site: SiteDep) -> Response:
    if site.user is not None:
        return site.redirect("/account")
    return _signup(site, {"locale": site.locale}, {})


@router.post("/signup", include_in_schema=False)
async def signup(site: SiteDep, form: Form) -> Response:
    values = {
        "email": _text(form, "email", 254),
        "display_name": _text(form, "display_name", 100),
        "locale": _text(form, "locale", 5),
        "postcode": _text(form, "postcode", 12),
    }
    password = str(form.get("password", ""))[:256]
    if values["locale"] not in site.settings.locales:
        values["locale"] = site.locale
    errors: dict[str, str] = {}
    if not values["email"]:
        errors["email"] = site.gettext("Enter your email address.")
    if not values["display_name"]:
        errors["display_name"] = site.gettext("Enter the name others will see.")
    if not password:
        errors["password"] = site.gettext("Choose a password.")
    elif len(password) < PASSWORD_MIN:
        errors["password"] = site.gettext("Use at least 10 characters.")
    if errors:
        return _signup(site, values, errors, 422)
    body: dict[str, Any] = {
        "email": values["email"],
        "password": password,
        "display_name": values["display_name"],
        "locale": values["locale"],
    }
    if values["postcode"]:
        body["postcode"] = values["postcode"]
    try:
        await site.client(auth=False).gateway_register(body=body)
    except ApiFailure as failure:
        if failure.code == "email_taken":
            errors["email"] = site.gettext(
                "An account with this email already exists. Log in, or reset your password."
            )
        elif failure.status == 429:
            errors["__all__"] = site.gettext("Too many attempts. Wait a few minutes and try again.")
        elif failure.status == 422:
            errors = _field_errors(site, failure)
        else:
            raise
        return _signup(site, values, errors, 422)
    # Signed in at once (the account works before the address is verified), so the next page can
    # send the link again.
    try:
        tokens = await site.client(auth=False).gateway_login(
            body={"email": body["email"], "password": password}
        )
    except ApiFailure:
        tokens = None
    if tokens is not None:
        await site.sign_in(tokens)
    site.set_locale(values["locale"])
    return site.redirect("/signup/check-email")


@router.get("/signup/check-email", include_in_schema=False)
async def check_email(site: SiteDep) -> Response:
    return site.render("account/check_email.html")


@router.post("/signup/resend", include_in_schema=False)
async def resend_link(site: SignedIn, form: Form) -> Response:
    try:
        await site.client().gateway_resend_verification()
    except ApiFailure as failure:
        if failure.status != 429:
            raise
        site.flash(site.gettext("Too many attempts. Wait a few minutes and try again."), "error")
    else:
        site.flash(site.gettext("We sent you a new link. Look in your inbox (and spam folder)."))
    back = "/account" if str(form.get("back", "")) == "account" else "/signup/check-email"
    return site.redirect(back)


# -- verify the address -------------------------------------------------------------------------


def _link_problem(site: Site, failure: ApiFailure) -> str:
    if failure.code == "token_used":
        return site.gettext("This link was already used. If your address is verified, just log in.")
    if "expired" in failure.code:
        return site.gettext("This link has expired.")
    return site.gettext("This link is not valid. Copy the whole link from the email.")


@router.get("/verify-email", include_in_schema=False)
async def verify_page(site: SiteDep, token: str = Token) -> Response:
    return site.render("account/verify.html", token=token, problem=None)


@router.post("/verify-email", include_in_schema=False)
async def verify(site: SiteDep, form: Form) -> Response:
    token = str(form.get("token", ""))[:2000]
    try:
        await site.client(auth=False).gateway_verify_email(body={"token": token})
    except ApiFailure as failure:
        if failure.status not in (400, 404, 410, 422):
            raise
        return site.render("account/verify.html", status=422, token="", problem=_link_problem(site, failure))
    if site.user is not None:
        await site.refresh_profile()
    site.flash(site.gettext("Your address is verified."))
    return site.redirect("/verify-email/done")


@router.get("/verify-email/done", include_in_schema=False)
async def verified(site: SiteDep) -> Response:
    return site.render("account/verified.html")


# -- forgotten password -------------------------------------------------------------------------


@router.get("/password/forgot", include_in_schema=False)
async def forgot_page(site: SiteDep) -> Response:
    return site.render("account/forgot.html", email="", errors={})


@router.post("/password/forgot", include_in_schema=False)
async def forgot(site: SiteDep, form: Form) -> Response:
    email = _text(form, "email", 254)
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = site.gettext("Enter your email address.")
    else:
        try:
            await site.client(auth=False).gateway_request_password_reset(body={"email": email})
        except ApiFailure as failure:
            if failure.status == 429:
                errors["__all__"] = site.gettext("Too many attempts. Wait a few minutes and try again.")
            elif failure.status == 422:
                errors = _field_errors(site, failure)
            else:
                raise
    if errors:
        return site.render("account/forgot.html", status=422, email=email, errors=errors)
    return site.redirect("/password/forgot/sent")


@router.get("/password/forgot/sent", include_in_schema=False)
async def forgot_sent(site: SiteDep) -> Response:
    return site.render("account/forgot_sent.html")


@router.get("/reset-password", include_in_schema=False)
async def reset_page(site: SiteDep, token: str = Token) -> Response:
    return site.render("account/reset.html", token=token, errors={}, rules=password_rules(site))


@router.post("/reset-password", include_in_schema=False)
async def reset(site: SiteDep, form: Form) -> Response:
    token = str(form.get("token", ""))[:2000]
    new = str(form.get("new_password", ""))[:256]
    again = str(form.get("new_password_again", ""))[:256]
    errors = _new_password_errors(site, new, again)
    if not errors:
        try:
            await site.client(auth=False).gateway_confirm_password_reset(
                body={"token": token, "new_password": new}
            )
        except ApiFailure as failure:
            if failure.status == 422:
                errors = _field_errors(site, failure, {"password": "new_password"})
            elif failure.status in (400, 404, 410):
                errors["__all__"] = (
                    _link_problem(site, failure) + " " + site.gettext("Ask for a new link below.")
                )
            elif failure.status == 429:
                errors["__all__"] = site.gettext("Too many attempts. Wait a few minutes and try again.")
            else:
                raise
    if errors:
        return site.render(
            "account/reset.html", status=422, token=token, errors=errors, rules=password_rules(site)
        )
    if site.user is not None:
        await site.sign_out()  # the reset logged every session out
    site.flash(site.gettext("Your password is changed. Log in with it."))
    return site.redirect("/login")


def _new_password_errors(site: Site, new: str, again: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not new:
        errors["new_password"] = site.gettext("Choose a password.")
    elif len(new) < PASSWORD_MIN:
        errors["new_password"] = site.gettext("Use at least 10 characters.")
    if new and new != again:
        errors["new_password_again"] = site.gettext("The two passwords are not the same.")
    return errors


# -- profile ------------------------------------------------------------------------------------


def _profile(site: Site, me: dict[str, Any], values: dict[str, str], errors: dict[str, str],
             status: int = 200) -> Response:  # fmt: skip
    return site.render("account/profile.html", status=status, me=me, values=values, errors=errors,
                       languages=LANGUAGES)  # fmt: skip


@router.get("/account", include_in_schema=False)
async def profile_page(site: SignedIn) -> Response:
    me = await site.client().gateway_me()
    values = {
        "display_name": me.get("display_name", ""),
        "locale": me.get("locale", site.locale),
        "postcode": me.get("postcode") or "",
    }
    return _profile(site, me, values, {})


@router.post("/account", include_in_schema=False)
async def save_profile(site: SignedIn, form: Form) -> Response:
    values = {
        "display_name": _text(form, "display_name", 100),
        "locale": _text(form, "locale", 5),
        "postcode": _text(form, "postcode", 12),
    }
    errors: dict[str, str] = {}
    if not values["display_name"]:
        errors["display_name"] = site.gettext("Enter the name others will see.")
    if values["locale"] not in site.settings.locales:
        errors["locale"] = site.gettext("Choose English or French.")
    changes: dict[str, Any] = {"display_name": values["display_name"], "locale": values["locale"]}
    if values["postcode"]:
        changes["postcode"] = values["postcode"]
    if not errors:
        try:
            await site.client().gateway_update_me(body=changes)
        except ApiFailure as failure:
            if failure.status != 422:
                raise
            errors = _field_errors(site, failure)
    if errors:
        me = await site.client().gateway_me()
        return _profile(site, me, values, errors, 422)
    await site.refresh_profile()
    if values["locale"] != site.locale:
        site.set_locale(values["locale"])
    site.flash(site.gettext("Your profile is saved."))
    return site.redirect("/account")


# -- change password ----------------------------------------------------------------------------


@router.get("/account/password", include_in_schema=False)
async def password_page(site: SignedIn) -> Response:
    return site.render("account/password.html", errors={}, rules=password_rules(site))


@router.post("/account/password", include_in_schema=False)
async def change_password(site: SignedIn, form: Form) -> Response:
    current = str(form.get("current_password", ""))[:256]
    new = str(form.get("new_password", ""))[:256]
    again = str(form.get("new_password_again", ""))[:256]
    errors = _new_password_errors(site, new, again)
    if not current:
        errors["current_password"] = site.gettext("Enter your current password.")
    if not errors:
        try:
            tokens = await site.client().gateway_change_password(
                body={"current_password": current, "new_password": new}
            )
        except ApiFailure as failure:
            if failure.code == "wrong_password" or failure.status == 403:
                errors["current_password"] = site.gettext("This is not your current password.")
            elif failure.status == 422:
                errors = _field_errors(site, failure, {"password": "new_password"})
            elif failure.status == 429:
                errors["__all__"] = site.gettext("Too many attempts. Wait a few minutes and try again.")
            else:
                raise
        else:
            await site.replace_tokens(tokens)
            site.flash(site.gettext("Your password is changed. Your other sessions are logged out."))
            return site.redirect("/account")
    return site.render("account/password.html", status=422, errors=errors, rules=password_rules(site))


# -- delete the account -------------------------------------------------------------------------


@router.get("/account/delete", include_in_schema=False)
async def delete_page(site: SignedIn) -> Response:
    return site.render("account/delete.html", errors={})


@router.post("/account/delete", include_in_schema=False)
async def delete_account(site: SignedIn, form: Form) -> Response:
    password = str(form.get("password", ""))[:256]
    errors: dict[str, str] = {}
    if not password:
        errors["password"] = site.gettext("Enter your password.")
    else:
        try:
            await site.client().gateway_delete_me(body={"password": password})
        except ApiFailure as failure:
            if failure.code == "wrong_password" or failure.status == 403:
                errors["password"] = site.gettext("This is not your password.")
            elif failure.status == 429:
                errors["__all__"] = site.gettext("Too many attempts. Wait a few minutes and try again.")
            else:
                raise
    if errors:
        return site.render("account/delete.html", status=422, errors=errors)
    await site.sign_out()
    site.flash(site.gettext("Your account is deleted. Thank you for taking part."), "info")
    return site.redirect("/")
