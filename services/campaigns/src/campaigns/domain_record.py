"""One record of everything a project receives, the pure rules: what the city's support items
and the permits are and which states they move through, whether a permit holds the payout, and
the in-kind lines of the record. No I/O: record.py and permits.py load and store.

Money (raised, pledged, the city's match) and in-kind help (the citizens' against the needs,
the city's support items) stay apart: in-kind values are declared values, never money."""

from __future__ import annotations

from typing import Any, Literal

# The city's support, as the label states it (endorsements' labels: land, venue, equipment,
# permit, ...); anything else is `other`. Match funding is money: it is the record's `match`.
SupportType = Literal["land", "venue", "equipment", "permit", "other"]
SUPPORT_TYPES: tuple[str, ...] = ("land", "venue", "equipment", "permit", "other")
MONEY_SUPPORT = frozenset({"match_funding", "money"})

# offered: the city granted its label with it; accepted and delivered: as the owner confirms.
SupportStatus = Literal["offered", "accepted", "delivered"]
SUPPORT_STATUSES: tuple[str, ...] = ("offered", "accepted", "delivered")

# A permit the project needs: declared `required`; an official of the labelling city marks it
# `granted` or `refused` (a refused permit still holds the payout: the work cannot go ahead).
PermitStatus = Literal["required", "granted", "refused"]
PERMIT_DECISIONS: tuple[str, ...] = ("granted", "refused")
PermitDeclarer = Literal["owner", "city"]


# Endorsements' own names for some kinds (labels/models.py SupportOffer).
_KIND_ALIASES = {"permits": "permit"}


def support_type(kind: Any) -> str:
    kind = _KIND_ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    return kind if isinstance(kind, str) and kind in SUPPORT_TYPES else "other"


def support_move(current: str, to: str) -> str | None:
    """The item's status after the owner's confirmation, or None when nothing changes (confirming
    again). ValueError when it would go back (delivered help is not undelivered)."""
    if to not in ("accepted", "delivered"):
        raise ValueError(f"unknown support status {to!r}")
    if SUPPORT_STATUSES.index(to) < SUPPORT_STATUSES.index(current):
        raise ValueError(f"the support is already {current}")
    return None if to == current else to


def city_support_items(labels: list[dict[str, Any]], confirmations: dict[str, str]) -> list[dict[str, Any]]:
    """The in-kind support items of the campaign's granted labels, in label order, each with its
    status (`confirmations`: item id -> status the owner confirmed). Items are numbered by their
    place in the label's `support` list, which a label keeps as granted."""
    items: list[dict[str, Any]] = []
    for label in sorted(labels, key=lambda lb: (lb["municipality"], lb["_id"])):
        if label.get("status") != "granted":
            continue
        for index, raw in enumerate(label.get("support") or []):
            if not isinstance(raw, dict) or raw.get("kind") in MONEY_SUPPORT:
                continue
            item_id = support_item_id(label["_id"], index)
            value = raw.get("value")
            items.append(
                {
                    "id": item_id,
                    "label_id": label["_id"],
                    "index": index,
                    "municipality": label["municipality"],
                    "type": support_type(raw.get("kind")),
                    "description": str(raw.get("description") or raw.get("kind") or ""),
                    "value": int(value) if isinstance(value, int) else 0,
                    "status": confirmations.get(item_id, "offered"),
                }
            )
    return items


def support_item_id(label_id: str, index: int) -> str:
    return f"{label_id}~{index}"


def need_line(need: dict[str, Any]) -> dict[str, Any]:
    """A need's line of the record: quantities offered (pending), accepted (delivered included)
    and delivered, each valued at the need's declared unit value (0 without one)."""
    counts = need.get("counts") or {}
    unit_value = need.get("unit_value")
    price = int(unit_value) if isinstance(unit_value, int) else 0
    offered, accepted, delivered = (int(counts.get(k, 0)) for k in ("offered", "accepted", "delivered"))
    return {
        "need_id": need["_id"],
        "title": need["title"],
        "kind": need["kind"],
        "quantity": int(need["quantity"]),
        "unit": need.get("unit", ""),
        "unit_value": unit_value if isinstance(unit_value, int) else None,
        "counts_toward_goal": bool(need.get("counts_toward_goal")),
        "offered": offered,
        "accepted": accepted,
        "delivered": delivered,
        "value_offered": offered * price,
        "value_accepted": accepted * price,
        "value_delivered": delivered * price,
    }


def permits_pending(permits: list[dict[str, Any]]) -> bool:
    """The payout waits while any required permit is not granted."""
    return any(p["status"] != "granted" for p in permits)


def permit_deciders(campaign: dict[str, Any]) -> list[str]:
    """The cities whose officials mark a permit granted: the cities labelling the campaign, or
    its own city while none labels it (a permit is a city's decision; someone must take it)."""
    labelled = list(campaign.get("labelled_by") or [])
    return labelled or [campaign["municipality"]]


# A permit can be declared until the campaign is over without money to release.
PERMIT_CLOSED_STATUSES = frozenset({"rejected", "canceled"})
