"""Use cases of the cities' labels on a campaign (from endorsements' label.* events): one
record per label id; `labelled_by` on the campaign lists the cities whose label is granted.
A revocation is final: a late or duplicated grant does not undo it. They run in the event
handler's transaction."""

from __future__ import annotations

from typing import Any

from servicekit.mongo import Tx

from .funding import campaign_for, merge
from .store import CampaignStore, Doc, save


async def refresh_labelled_by(store: CampaignStore, tx: Tx, campaign_id: str) -> None:
    cities = sorted({label["municipality"] for label in await store.granted_labels(campaign_id, tx)})
    fresh = await store.campaign(campaign_id, tx)
    assert fresh is not None
    if cities != list(fresh.get("labelled_by") or []):
        await save(tx, "campaigns", {**fresh, "labelled_by": cities})


def _facts(data: dict[str, Any], status: str) -> Doc:
    facts: Doc = {"status": status, "municipality": data["municipality"]}
    for key in ("support", "in_kind_value", "currency", "reason"):
        if key in data:
            facts[key] = data[key]
    return facts


async def granted(tx: Tx, data: dict[str, Any]) -> None:
    store = CampaignStore.of(tx)
    campaign = await campaign_for(store, tx, {"campaign_id": data["campaign_id"]})
    existing = await store.by_id("labels", data["label_id"], tx)
    if existing is not None and existing["status"] == "revoked":
        return  # the revocation overtook this grant: it stays revoked
    await merge(
        store, tx, "labels", data["label_id"], {"campaign_id": campaign["_id"]}, _facts(data, "granted")
    )
    await refresh_labelled_by(store, tx, campaign["_id"])


async def revoked(tx: Tx, data: dict[str, Any]) -> None:
    store = CampaignStore.of(tx)
    campaign = await campaign_for(store, tx, {"campaign_id": data["campaign_id"]})
    await merge(
        store, tx, "labels", data["label_id"], {"campaign_id": campaign["_id"]}, _facts(data, "revoked")
    )
    await refresh_labelled_by(store, tx, campaign["_id"])
