"""Preferences per category and channel, and one-click unsubscribe links that need no login."""

from __future__ import annotations

from dataclasses import asdict
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from . import preferences
from .deps import MongoDep, PrincipalDep, SettingsDep
from .preferences import CategoryView

router = APIRouter(tags=["preferences"])


class ChannelChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: bool | None = None
    inapp: bool | None = None


class PreferencesIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"categories": {"calls": {"email": True, "inapp": True}, "campaign_news": {"email": False}}}
            ]
        },
    )

    categories: dict[Annotated[str, Field(max_length=40)], ChannelChoice] = Field(max_length=20)


class CategoryOut(BaseModel):
    email: bool
    inapp: bool
    locked: bool
    label: str


class PreferencesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "categories": {
                        "calls": {
                            "email": True,
                            "inapp": True,
                            "locked": False,
                            "label": "Calls for projects in my city",
                        },
                        "campaign_news": {
                            "email": False,
                            "inapp": True,
                            "locked": False,
                            "label": "Campaigns I follow or back",
                        },
                    }
                }
            ]
        }
    )
    categories: dict[str, CategoryOut]


def _out(views: dict[str, CategoryView]) -> PreferencesOut:
    return PreferencesOut(categories={name: CategoryOut(**asdict(v)) for name, v in views.items()})


@router.get("/me/preferences", response_model=PreferencesOut)
async def my_preferences(principal: PrincipalDep, mongo: MongoDep) -> PreferencesOut:
    return _out(await preferences.effective(mongo, principal.sub))


@router.put("/me/preferences", response_model=PreferencesOut)
async def change_preferences(body: PreferencesIn, principal: PrincipalDep, mongo: MongoDep) -> PreferencesOut:
    """Partial: only the categories and channels given change."""
    changes = {
        cat: {ch: on for ch, on in choice.model_dump().items() if on is not None}
        for cat, choice in body.categories.items()
    }
    return _out(await preferences.change(mongo, principal.sub, changes))


# -- unsubscribe (no login: the signed token says who and what) ------------------------------

_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Civicfund</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 2em auto;">{body}</body></html>"""
Token = Annotated[str, Query(max_length=2000)]


_BAD_LINK: dict[int | str, dict[str, Any]] = {400: {"description": "The link's token is not valid"}}


def _page(lang: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(lang=lang, body=body), status_code=status)


@router.get("/unsubscribe", response_class=HTMLResponse, responses=_BAD_LINK)
async def unsubscribe_page(token: Token, mongo: MongoDep, settings: SettingsDep) -> HTMLResponse:
    """Shows a confirmation button: mail scanners follow GET links, so GET changes nothing."""
    link = await preferences.read_unsubscribe_link(mongo, settings.unsubscribe_secret, token)
    lang = link.locale
    label = escape(link.label) if link.category != "all" else ""
    action = f"unsubscribe?token={escape(token)}"
    if lang == "fr":
        text = (
            f"Ne plus recevoir les e-mails « {label} » ?"
            if label
            else "Ne plus recevoir aucun e-mail facultatif ?"
        )
        button = "Me désabonner"
    else:
        text = f"Stop emails about “{label}”?" if label else "Stop every optional email?"
        button = "Unsubscribe"
    return _page(
        lang,
        f'<p>{text}</p><form method="post" action="{action}"><button type="submit">{button}</button></form>',
    )


@router.post("/unsubscribe", response_class=HTMLResponse, responses=_BAD_LINK)
async def unsubscribe(token: Token, mongo: MongoDep, settings: SettingsDep) -> HTMLResponse:
    """The form's target and RFC 8058 one-click (`List-Unsubscribe-Post`)."""
    link = await preferences.unsubscribe(mongo, settings.unsubscribe_secret, token)
    if link.locale == "fr":
        body = "<p>C'est fait : vous ne recevrez plus ces e-mails. Les reçus de paiement restent envoyés.</p>"
    else:
        body = "<p>Done: you will not get these emails any more. Payment receipts are still sent.</p>"
    return _page(link.locale, body)
