"""The campaign page: story, progress (raised, matched, the city's promised match), the funding
model in one sentence, the cities' labels and the support they give, needs with an "I can help"
form, updates, meetups with RSVP, follow/unfollow and a share link. Everything comes from the
API: `/api/v1/pages/campaigns/{id}` (campaign, totals, labels, commitments, my pledge) and the
campaign's updates; a campaign the visitor may not see is the 404 page (the API decides).

Links in emails: `/campaigns/{id}/updates/{update_id}` renders the page with that update
focused; `/campaigns/{id}/offers/{offer_id}` sends the campaign's owner to their dashboard
(`/projects/{id}/needs`, where offers are accepted or declined) and shows anyone else the page with
their own offer highlighted.

Whether the visitor follows the campaign and comes to its meetups is the campaign's `viewer`
part (present when signed in)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import APIRouter, Query
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..i18n import FORMAT_LOCALES, parse_instant
from ..site import Form, SignedIn, Site, SiteDep
from ..vocabulary import need_kind_names, support_kind_names
from .city_dues import campaign_matches, dues_context
from .discover import card_context, municipalities
from .record import project_record, record_context

router = APIRouter()

UPDATES_SHOWN = 10
UPDATE_SEARCH_PAGES = 5
# Meetups happen somewhere: their times are shown in the platform's cities' zone, not in UTC.
MEETUP_ZONE = ZoneInfo("Europe/Paris")


def meetup_time(site: Site, value: Any) -> str:
    moment = parse_instant(value)
    if moment is None:
        return ""
    locale = FORMAT_LOCALES.get(site.locale, site.locale)
    return format_datetime(moment, "EEEE d MMMM y, HH:mm", tzinfo=MEETUP_ZONE, locale=locale)


def _api_path(campaign_id: str, rest: str = "") -> str:
    return f"/api/v1/campaigns/campaigns/{quote(campaign_id, safe='')}{rest}"


async def _updates(site: Site, campaign_id: str, wanted: str | None) -> tuple[list[dict[str, Any]], bool]:
    """The newest updates, and the one an email linked to even when it is older (`more`: there
    are older ones than those shown)."""
    page = await site.api("GET", _api_path(campaign_id, "/updates"), params={"limit": UPDATES_SHOWN})
    items = list(page.get("items", []))
    cursor = page.get("next_cursor")
    more = bool(cursor)
    if wanted and not any(u["id"] == wanted for u in items):
        for _ in range(UPDATE_SEARCH_PAGES):
            if not cursor:
                break
            older = await site.api(
                "GET", _api_path(campaign_id, "/updates"), params={"limit": 50, "cursor": cursor}
            )
            found = [u for u in older.get("items", []) if u["id"] == wanted]
            if found:
                items.append(found[0])
                break
            cursor = older.get("next_cursor")
    return items, more


async def _my_offer(site: Site, campaign: dict[str, Any], offer_id: str) -> dict[str, Any] | None:
    """The visitor's own offer (the API shows people only their own)."""
    for need in campaign.get("needs") or []:
        try:
            found = await site.api(
                "GET", _api_path(campaign["id"], f"/needs/{quote(need['id'], safe='')}/offers")
            )
        except ApiFailure:
            continue
        for offer in found.get("items", []):
            if offer.get("id") == offer_id:
                return offer
    return None


def _is_owner(site: Site, campaign: dict[str, Any]) -> bool:
    return bool(site.user and campaign.get("owner_id") and campaign["owner_id"] == site.user.get("id"))


async def render_campaign(
    site: Site,
    campaign_id: str,
    *,
    status: int = 200,
    focus_update: str | None = None,
    focus_offer: str | None = None,
    offer_form: dict[str, Any] | None = None,
) -> Response:
    page_task = site.api("GET", f"/api/v1/pages/campaigns/{quote(campaign_id, safe='')}")
    page, (updates, more_updates), cities, city_matches = await asyncio.gather(
        page_task, _updates(site, campaign_id, focus_update), municipalities(site),
        campaign_matches(site, campaign_id),
    )  # fmt: skip
    campaign = page.get("campaign")
    if not campaign:
        raise ApiFailure(503, "unavailable", "the campaign could not be fetched")
    record = await project_record(site, campaign_id)  # what it receives (pages/record.py)
    totals = page.get("totals") or campaign.get("totals") or {}
    labels = page.get("labels")
    if labels is None:
        labels = campaign.get("labels") or []
    labels = [lb for lb in labels if lb.get("status", "granted") == "granted"]
    # A call for projects' winner is labelled by its city without a label request (campaigns
    # records it in `labelled_by`; endorsements has no request to list).
    labels += [{"municipality": m, "status": "granted", "support": []}
               for m in campaign.get("labelled_by") or [] if m not in {lb.get("municipality") for lb in labels}]  # fmt: skip
    commitments = [c for c in page.get("commitments") or [] if c.get("status") != "canceled"]
    promised = max(
        int(totals.get("match_promised") or 0),
        sum(int(c.get("max_amount") or 0) for c in commitments),
    )
    offer = await _my_offer(site, campaign, focus_offer) if focus_offer and site.user else None
    viewer = campaign.get("viewer") or {}
    public_url = site.settings.public_base_url.rstrip("/") + f"/campaigns/{campaign['id']}"
    mail_subject = site.gettext("A neighbourhood project: %(title)s") % {"title": campaign["title"]}
    mail_body = site.gettext("Have a look at this project on Civicfund: %(url)s") % {"url": public_url}
    return site.render(
        "campaign/page.html",
        status=status,
        campaign=campaign,
        totals=totals,
        labels=labels,
        commitments=commitments,
        promised=promised,
        city_matches=city_matches,
        **dues_context(site),
        my_pledge=page.get("my_pledge"),
        unavailable=page.get("unavailable") or [],
        **record_context(site, record),
        updates=updates,
        more_updates=more_updates,
        meetups=[m for m in campaign.get("next_meetups") or [] if not m.get("canceled")],
        needs=[n for n in campaign.get("needs") or [] if n.get("open", True)],
        is_owner=_is_owner(site, campaign),
        following=bool(viewer.get("following")),
        rsvps=viewer.get("rsvps") or {},
        focus_update=focus_update,
        focus_offer=offer,
        offer_state=offer_form or {},
        public_url=public_url,
        mailto=f"mailto:?subject={quote(mail_subject)}&body={quote(mail_body)}",
        support_kinds=support_kind_names(site),
        need_kinds=need_kind_names(site),
        when=lambda value: meetup_time(site, value),
        **card_context(site, cities),
    )


@router.get("/campaigns/{campaign_id}", include_in_schema=False)
async def campaign_page(site: SiteDep, campaign_id: str) -> Response:
    return await render_campaign(site, campaign_id)


@router.get("/campaigns/{campaign_id}/updates/{update_id}", include_in_schema=False)
async def campaign_update(site: SiteDep, campaign_id: str, update_id: str) -> Response:
    """The link in the "new update" emails: the campaign page, focused on that update."""
    return await render_campaign(site, campaign_id, focus_update=update_id)


@router.get("/campaigns/{campaign_id}/offers/{offer_id}", include_in_schema=False)
async def campaign_offer(site: SignedIn, campaign_id: str, offer_id: str) -> Response:
    """The link in the "offer received" email: the owner decides on offers in their dashboard;
    anyone else sees the campaign page with their own offer highlighted."""
    campaign = await site.api("GET", _api_path(campaign_id))
    if _is_owner(site, campaign):
        return site.redirect(
            f"/projects/{quote(campaign_id, safe='')}/needs#offer-{quote(offer_id, safe='')}"
        )
    return await render_campaign(site, campaign_id, focus_offer=offer_id)


@router.post("/campaigns/{campaign_id}/follow", include_in_schema=False)
async def follow(site: SignedIn, form: Form, campaign_id: str) -> Response:
    await site.api("PUT", _api_path(campaign_id, "/follow"))
    site.flash(site.gettext("You follow this project: its news will reach your inbox."))
    return site.redirect(f"/campaigns/{quote(campaign_id, safe='')}#follow")


@router.post("/campaigns/{campaign_id}/unfollow", include_in_schema=False)
async def unfollow(site: SignedIn, form: Form, campaign_id: str) -> Response:
    await site.api("DELETE", _api_path(campaign_id, "/follow"))
    site.flash(site.gettext("You no longer follow this project."), "info")
    return site.redirect(f"/campaigns/{quote(campaign_id, safe='')}#follow")


def _offer_refusal(site: Site, failure: ApiFailure) -> str:
    _ = site.gettext
    return {
        "need_closed": _("This need is already covered."),
        "own_campaign": _("You cannot offer help to your own project."),
        "campaign_not_live": _("Offers are taken while the project is raising money."),
    }.get(failure.code, failure.message)


def _quantity_error(site: Site, failure: ApiFailure) -> str | None:
    for detail in failure.details:
        loc = [str(p) for p in detail.get("loc", []) if p != "body"]
        if loc[:1] == ["quantity"]:
            if str(detail.get("type", "")) in (
                "greater_than_equal",
                "less_than_equal",
                "int_parsing",
                "int_type",
            ):
                return site.gettext("Enter a whole number from 1 to 10,000.")
            return str(detail.get("msg") or failure.message)
    return None


@router.post("/campaigns/{campaign_id}/needs/{need_id}/offers", include_in_schema=False)
async def offer_help(site: SignedIn, form: Form, campaign_id: str, need_id: str) -> Response:
    quantity_text = str(form.get("quantity", "")).strip()
    message = str(form.get("message", "")).strip()
    errors: dict[str, str] = {}
    quantity: int | None = None
    try:
        quantity = int(quantity_text)
    except ValueError:
        errors["quantity"] = site.gettext("Enter a whole number from 1 to 10,000.")
    if quantity is not None:
        body = {"quantity": quantity, "message": message, "contact": {"channel": "in_app", "value": ""}}
        try:
            await site.api(
                "POST", _api_path(campaign_id, f"/needs/{quote(need_id, safe='')}/offers"), json=body
            )
        except ApiFailure as failure:
            if failure.status == 422:
                fields = failure.field_errors()
                if quantity_error := _quantity_error(site, failure):
                    errors["quantity"] = quantity_error
                if "message" in fields:
                    errors["message"] = fields["message"]
                if not errors:
                    errors["__all__"] = fields.get("__all__") or failure.message
            elif failure.status == 409:
                errors["__all__"] = _offer_refusal(site, failure)
            else:
                raise
        else:
            site.flash(site.gettext("Thank you! The project team has your offer and will get back to you."))
            return site.redirect(f"/campaigns/{quote(campaign_id, safe='')}#need-{quote(need_id, safe='')}")
    offer_form = {"need_id": need_id, "quantity": quantity_text, "message": message, "errors": errors}
    return await render_campaign(site, campaign_id, status=422, offer_form=offer_form)


@router.post("/campaigns/{campaign_id}/meetups/{meetup_id}/rsvp", include_in_schema=False)
async def rsvp(site: SignedIn, form: Form, campaign_id: str, meetup_id: str) -> Response:
    answer = await site.api("PUT", _api_path(campaign_id, f"/meetups/{quote(meetup_id, safe='')}/rsvp"))
    state = str((answer or {}).get("state", "going"))
    if state == "waitlisted":
        site.flash(
            site.gettext("The meetup is full: you are on the waiting list. A seat given back goes to you."),
            "info",
        )
    else:
        site.flash(site.gettext("You are coming: see you there!"))
    return site.redirect(f"/campaigns/{quote(campaign_id, safe='')}#meetup-{quote(meetup_id, safe='')}")


@router.post("/campaigns/{campaign_id}/meetups/{meetup_id}/rsvp/cancel", include_in_schema=False)
async def cancel_rsvp(site: SignedIn, form: Form, campaign_id: str, meetup_id: str) -> Response:
    await site.api("DELETE", _api_path(campaign_id, f"/meetups/{quote(meetup_id, safe='')}/rsvp"))
    site.flash(site.gettext("Your place is given back. Thank you for telling the team."), "info")
    return site.redirect(f"/campaigns/{quote(campaign_id, safe='')}#meetup-{quote(meetup_id, safe='')}")


# -- abuse reports ---------------------------------------------------------------------------

REPORT_TARGETS = ("campaign", "update", "offer")
REPORT_REASONS = ("spam", "hateful", "fraud", "personal_data", "other")


def report_reason_choices(site: Site) -> list[tuple[str, str, str]]:
    """(value, label, hint) of each reason the campaigns service takes."""
    _ = site.gettext
    return [
        ("spam", _("Spam or advertising"), _("It sells something or has nothing to do with the project.")),
        ("hateful", _("Hateful or abusive"), _("It insults, threatens or attacks people.")),
        ("fraud", _("Fraud or scam"), _("It asks for money for something that is not what it says.")),
        (
            "personal_data",
            _("Someone's personal data"),
            _("It shows an address, a phone number or a private detail."),
        ),
        ("other", _("Something else"), _("Say what is wrong below.")),
    ]


def _report_back(campaign_id: str, target: str, item: str) -> str:
    cid = quote(campaign_id, safe="")
    if target == "update":
        return f"/campaigns/{cid}#update-{quote(item, safe='')}"
    if target == "offer":
        return f"/projects/{cid}/needs"
    return f"/campaigns/{cid}"


async def _render_report(
    site: Site,
    campaign_id: str,
    target: str,
    item: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    campaign = await site.api("GET", _api_path(campaign_id))
    described = campaign["title"]
    if target == "update":
        updates, _more = await _updates(site, campaign_id, item)
        described = next((u["title"] for u in updates if u["id"] == item), "")
    return site.render(
        "campaign/report.html",
        status=422 if errors else 200,
        campaign=campaign,
        target=target,
        item=item,
        described=described,
        reasons=report_reason_choices(site),
        values=values or {},
        errors=errors or {},
        back=_report_back(campaign_id, target, item),
    )


@router.get("/campaigns/{campaign_id}/report", include_in_schema=False)
async def report_form(
    site: SignedIn,
    campaign_id: str,
    target: str = Query("campaign", pattern="^(campaign|update|offer)$"),
    item: str = Query("", max_length=80, pattern=r"^[A-Za-z0-9_-]*$"),
) -> Response:
    """Report the campaign, one of its updates or an offer of help to the moderation team."""
    return await _render_report(site, campaign_id, target, item or campaign_id)


@router.post("/campaigns/{campaign_id}/report", include_in_schema=False)
async def report(site: SignedIn, form: Form, campaign_id: str) -> Response:
    _ = site.gettext
    target = str(form.get("target", "campaign"))
    item = str(form.get("item", "")).strip()[:80]
    if target not in REPORT_TARGETS:
        target = "campaign"
    values = {"reason": str(form.get("reason", "")).strip(), "details": str(form.get("details", "")).strip()}
    errors: dict[str, str] = {}
    if values["reason"] not in REPORT_REASONS:
        errors["reason"] = _("Choose what is wrong.")
    elif values["reason"] == "other" and not values["details"]:
        errors["details"] = _("Say what is wrong.")
    elif len(values["details"]) > 2000:
        errors["details"] = _("Keep it under 2,000 characters.")
    if not errors:
        body: dict[str, Any] = {"target": target, "reason": values["reason"], "details": values["details"]}
        if target != "campaign":
            body["target_id"] = item
        try:
            await site.api("POST", _api_path(campaign_id, "/reports"), json=body)
        except ApiFailure as failure:
            if failure.status == 422:
                errors = dict(failure.field_errors()) or {"__all__": failure.message}
            elif failure.status == 409:
                errors = {
                    "__all__": {
                        "own_content": _("You cannot report what you wrote yourself."),
                        "already_hidden": _("The moderation team already hid it."),
                    }.get(failure.code, failure.message)
                }
            else:
                raise
        else:
            site.flash(_("Thank you: the moderation team will look at your report."))
            return site.redirect(_report_back(campaign_id, target, item))
    return await _render_report(site, campaign_id, target, item or campaign_id, values=values, errors=errors)
