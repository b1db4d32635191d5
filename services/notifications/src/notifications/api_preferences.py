"""Preferences per category and channel, and one-click unsubscribe links that need no login."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx

from .domain import (
    CATEGORIES,
    CATEGORY_LABELS,
    effective_preferences,
    locale_of,
    merge_preferences,
    unsubscribe_all,
)
from .store import get_preferences, save_preferences
from .tokens import BadToken, verify_unsubscribe

router = APIRouter(tags=["preferences"])


class ChannelChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: bool | None = None
    inapp: bool | None = None


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: dict[Annotated[str, Field(max_length=40)], ChannelChoice] = Field(max_length=20)


class CategoryOut(BaseModel):
    email: bool
    inapp: bool
    locked: bool
    label: str


class PreferencesOut(BaseModel):
    categories: dict[str, CategoryOut]


async def _out(request: Request, user_id: str) -> PreferencesOut:
    db = request.app.state.ctx.mongo.db
    user = await db.users.find_one({"_id": user_id}, {"locale": 1})
    locale = locale_of((user or {}).get("locale"))
    eff = effective_preferences(await get_preferences(db, user_id))
    return PreferencesOut(
        categories={
            name: CategoryOut(**values, label=CATEGORY_LABELS[name][locale]) for name, values in eff.items()
        }
    )


@router.get("/me/preferences", response_model=PreferencesOut)
async def my_preferences(
    request: Request, principal: Principal = Depends(current_principal)
) -> PreferencesOut:
    return await _out(request, principal.sub)


@router.put("/me/preferences", response_model=PreferencesOut)
async def change_preferences(
    body: PreferencesIn, request: Request, principal: Principal = Depends(current_principal)
) -> PreferencesOut:
    """Partial: only the categories and channels given change."""
    changes = {
        cat: {ch: on for ch, on in choice.model_dump().items() if on is not None}
        for cat, choice in body.categories.items()
    }
    unknown = [c for c in changes if c not in CATEGORIES]
    if unknown:
        raise ApiError(
            422,
            "unknown_category",
            f"unknown categories: {', '.join(sorted(unknown))}",
            details=[{"known": sorted(CATEGORIES)}],
        )

    async def save(tx: Tx) -> None:
        current = await get_preferences(tx.db, principal.sub, tx.session)
        try:
            merged = merge_preferences(current, changes)
        except ValueError as exc:
            raise ApiError(422, "locked_category", str(exc)) from exc
        await save_preferences(tx, principal.sub, merged)

    await request.app.state.ctx.mongo.transact(save)
    return await _out(request, principal.sub)


# -- unsubscribe (no login: the signed token says who and what) ------------------------------

_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Civicfund</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 2em auto;">{body}</body></html>"""


def _page(lang: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(lang=lang, body=body), status_code=status)


def _verify(request: Request, token: str) -> tuple[str, str]:
    try:
        user_id, category = verify_unsubscribe(request.app.state.ctx.settings.unsubscribe_secret, token)
    except BadToken as exc:
        raise ApiError(400, "invalid_token", "this unsubscribe link is not valid") from exc
    if category != "all" and (category not in CATEGORIES or CATEGORIES[category].locked):
        raise ApiError(400, "invalid_token", "this unsubscribe link is not valid")
    return user_id, category


async def _locale(request: Request, user_id: str) -> str:
    user = await request.app.state.ctx.mongo.db.users.find_one({"_id": user_id}, {"locale": 1})
    return locale_of((user or {}).get("locale"))


@router.get("/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: str = Query(max_length=2000)) -> HTMLResponse:
    """Shows a confirmation button: mail scanners follow GET links, so GET changes nothing."""
    user_id, category = _verify(request, token)
    lang = await _locale(request, user_id)
    label = escape(CATEGORY_LABELS.get(category, {}).get(lang, "")) if category != "all" else ""
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


@router.post("/unsubscribe", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str = Query(max_length=2000)) -> HTMLResponse:
    """The form's target and RFC 8058 one-click (`List-Unsubscribe-Post`)."""
    user_id, category = _verify(request, token)

    async def save(tx: Tx) -> None:
        current = await get_preferences(tx.db, user_id, tx.session)
        merged = (
            unsubscribe_all(current)
            if category == "all"
            else merge_preferences(current, {category: {"email": False}})
        )
        await save_preferences(tx, user_id, merged)

    await request.app.state.ctx.mongo.transact(save)
    lang = await _locale(request, user_id)
    if lang == "fr":
        body = "<p>C'est fait : vous ne recevrez plus ces e-mails. Les reçus de paiement restent envoyés.</p>"
    else:
        body = "<p>Done: you will not get these emails any more. Payment receipts are still sent.</p>"
    return _page(lang, body)
