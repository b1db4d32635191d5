"""My space: the overview, campaigns I follow, the in-app inbox, notification preferences, and
the one-click unsubscribe page of the emails (no login: the signed token is the authority).

"My pledges" (`/me/pledges`) and "my projects" (`/projects`) are other features' pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..site import Form, SignedIn, Site, SiteDep, safe_next

router = APIRouter()

# The categories of notifications (services/notifications/README.md), in the site's words; a
# category the site does not know yet shows the API's label.
CATEGORY_ORDER = ("receipts", "account", "pledges", "my_campaigns", "campaign_news", "city", "calls")


def category_texts(site: Site) -> dict[str, tuple[str, str]]:
    """category -> (name, what it covers), in the site's language."""
    _ = site.gettext
    return {
        "receipts": (_("Payment receipts"), _("Payment received, refund. Always sent.")),
        "account": (_("Account"), _("Address verification, password reset. Always sent by email.")),
        "pledges": (_("My pledges"), _("Pledge saved, charge failed (with a retry link), pledge released.")),
        "my_campaigns": (
            _("My campaigns and projects"),
            _("Published, goal reached, ended; offers of help; city labels and match funding."),
        ),
        "campaign_news": (
            _("Campaigns I follow or back"),
            _("Goal reached, ended, canceled; news updates and meetups."),
        ),
        "city": (
            _("City space"),
            _("For city officials: label requests, subscription and webhook problems."),
        ),
        "calls": (_("Calls for projects in my city"), _("When your city opens a call (from your postcode).")),
    }


def _local_link(site: Site, link: str | None) -> str | None:
    """An inbox item's link as a path of this site (the API gives absolute links under
    PUBLIC_BASE_URL); anything pointing elsewhere is dropped."""
    if not link:
        return None
    base = site.settings.public_base_url.rstrip("/")
    if link.startswith(base + "/"):
        link = link[len(base) :]
    elif urlsplit(link).netloc:
        return None
    return safe_next(link, default="") or None


# -- overview -----------------------------------------------------------------------------------


@router.get("/me", include_in_schema=False)
async def overview(site: SignedIn) -> Response:
    try:
        unread = (await site.client().notifications_my_unread_count())["unread"]
    except ApiFailure as failure:
        if failure.status in (401, 403, 404):
            raise
        unread = None  # the inbox is unavailable: the rest of the page still works
    return site.render("me/overview.html", unread=unread)


# -- following ----------------------------------------------------------------------------------

# The listing answers the most recently followed first, in one page (no cursor): all of them, up
# to its maximum. A campaigns service without the route yet: the page says so plainly.
FOLLOWING_LIMIT = 200


@router.get("/me/following", include_in_schema=False)
async def following(site: SignedIn, cursor: str = Query("", max_length=500)) -> Response:
    try:
        page = await site.client().campaigns_campaigns_i_follow(limit=FOLLOWING_LIMIT)
    except ApiFailure as failure:
        if failure.status not in (404, 405, 501):
            raise
        return site.render("me/following.html", campaigns=None, next_cursor=None)
    return site.render(
        "me/following.html", campaigns=page.get("items", []), next_cursor=page.get("next_cursor")
    )


@router.post("/me/following/{campaign_id}/unfollow", include_in_schema=False)
async def unfollow(site: SignedIn, form: Form, campaign_id: str) -> Response:
    await site.client().campaigns_unfollow_campaign(campaign_id)
    site.flash(site.gettext("You no longer follow this campaign."), "info")
    return site.redirect("/me/following")


# -- inbox --------------------------------------------------------------------------------------


@router.get("/me/inbox", include_in_schema=False)
async def inbox(site: SignedIn, unread: bool = False, before: str = Query("", max_length=40)) -> Response:
    page = await site.client().notifications_my_inbox(unread_only=True if unread else None, before=before or None,
                                                      limit=30)  # fmt: skip
    items = page["items"]
    for item in items:
        item["href"] = _local_link(site, item.get("link"))
    older = items[-1]["created_at"] if len(items) == 30 else None
    return site.render(
        "me/inbox.html", items=items, unread=page.get("unread", 0), only_unread=unread, older=older
    )


def _inbox_back(form: Any) -> str:
    return "/me/inbox?unread=true" if str(form.get("unread", "")) == "true" else "/me/inbox"


@router.post("/me/inbox/read", include_in_schema=False)
async def mark_read(site: SignedIn, form: Form) -> Response:
    item_id = str(form.get("item", ""))[:300]
    if item_id:
        await site.client().notifications_mark_read(item_id)
    return site.redirect(_inbox_back(form))


@router.post("/me/inbox/read-all", include_in_schema=False)
async def mark_all_read(site: SignedIn, form: Form) -> Response:
    await site.client().notifications_mark_all_read()
    site.flash(site.gettext("Everything is marked as read."))
    return site.redirect(_inbox_back(form))


# -- notification preferences -------------------------------------------------------------------


def _rows(site: Site, categories: dict[str, Any]) -> list[dict[str, Any]]:
    texts = category_texts(site)
    names = [c for c in CATEGORY_ORDER if c in categories] + [
        c for c in categories if c not in CATEGORY_ORDER
    ]
    rows = []
    for name in names:
        view = categories[name]
        label, about = texts.get(name, (view.get("label", name), ""))
        rows.append({"name": name, "label": label, "about": about, **view})
    return rows


@router.get("/me/notifications", include_in_schema=False)
async def preferences_page(site: SignedIn) -> Response:
    prefs = await site.client().notifications_my_preferences()
    return site.render("me/notifications.html", rows=_rows(site, prefs["categories"]), error=None)


@router.post("/me/notifications", include_in_schema=False)
async def save_preferences(site: SignedIn, form: Form) -> Response:
    current = (await site.client().notifications_my_preferences())["categories"]
    choices = {
        name: {channel: form.get(f"{name}-{channel}") is not None for channel in ("email", "inapp")}
        for name, view in current.items()
        if not view.get("locked")
    }
    try:
        await site.client().notifications_change_preferences(body={"categories": choices})
    except ApiFailure as failure:
        if failure.status != 422:
            raise
        rows = _rows(site, {n: {**v, **choices.get(n, {})} for n, v in current.items()})
        return site.render("me/notifications.html", status=422, rows=rows, error=failure.message)
    site.flash(site.gettext("Your notification preferences are saved."))
    return site.redirect("/me/notifications")


# -- unsubscribe (no login) ---------------------------------------------------------------------


def _link_category(token: str) -> str | None:
    """The category an unsubscribe token names (read for display only: notifications checks the
    signature, this never decides anything)."""
    payload = token.partition(".")[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return None
    category = data.get("c") if isinstance(data, dict) else None
    return category if isinstance(category, str) else None


async def _unsubscribe_call(site: Site, method: str, token: str) -> bool:
    """Notifications' unsubscribe link, GET (checks the token, changes nothing) or POST (turns
    the emails off). Its answer is an HTML page (for emails sent before the links pointed here),
    so success is "not refused"; False when the link is not valid."""
    api = site.client(auth=False)
    try:
        await (
            api.notifications_unsubscribe(token=token)
            if method == "POST"
            else api.notifications_unsubscribe_page(token=token)
        )
    except ApiFailure as failure:
        if failure.status in (400, 422):
            return False
        raise
    return True


def _what(site: Site, category: str | None) -> str:
    """The category's name in the site's language ("" for every optional email or one the site
    does not know)."""
    label = category_texts(site).get(category or "")
    return label[0] if label else ""


@router.get("/unsubscribe", include_in_schema=False)
async def unsubscribe_page(site: SiteDep, token: str = Query("", max_length=2000)) -> Response:
    category = _link_category(token) if token else None
    valid = bool(token) and category is not None and await _unsubscribe_call(site, "GET", token)
    return site.render(
        "me/unsubscribe.html", status=200 if valid else 400, token=token if valid else "",
        what=_what(site, category), all=category == "all",
    )  # fmt: skip


@router.post("/unsubscribe", include_in_schema=False)
async def unsubscribe(site: SiteDep, request: Request, token: str = Query("", max_length=2000)) -> Response:
    """The page's button, and RFC 8058 one-click from mail clients (`List-Unsubscribe-Post`):
    a mail client posts `List-Unsubscribe=One-Click` without any CSRF token, and needs none: the
    signed token is the only authority here, and it is in the link."""
    form = await request.form()
    token = token or str(form.get("token", ""))[:2000]
    category = _link_category(token) if token else None
    if category is None or not await _unsubscribe_call(site, "POST", token):
        return site.render("me/unsubscribe.html", status=400, token="", what="", all=False)
    if form.get("List-Unsubscribe") == "One-Click":
        return site.render("me/unsubscribed.html", what=_what(site, category), all=category == "all")
    return site.redirect(f"/unsubscribe/done?c={quote(category, safe='')}")


@router.get("/unsubscribe/done", include_in_schema=False)
async def unsubscribed(site: SiteDep, c: str = Query("", max_length=40)) -> Response:
    """The page after the button (the category only picks the sentence: nothing changes here)."""
    return site.render("me/unsubscribed.html", what=_what(site, c or None), all=c == "all")
