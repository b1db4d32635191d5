"""The one step tests and benches take around the public API: a campaign runs at least 7 days
and nobody can wait that long, so its deadline is moved into the past in campaigns' datastore,
and the campaign's own scheduler ends it as it would at the real deadline.

It goes through servicekit's transaction (and so the replicas' lock on the datastore) and
replaces the document whole (nx-27017 stringifies a `$set` datetime)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from servicekit.mongo import Mongo, Tx, epoch_ms
from servicekit.settings import ServiceSettings


async def end_campaign_now(mongo_url: str, lock_dir: Path, campaign_id: str) -> None:
    settings = ServiceSettings(
        service_name="campaigns", mongo_url=mongo_url, mongo_db="campaigns", mongo_lock_dir=str(lock_dir)
    )
    mongo = Mongo(settings)
    await mongo.connect()

    async def past(tx: Tx) -> None:
        doc = await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session)
        assert doc is not None, f"no campaign {campaign_id}"
        moment = datetime.now(UTC) - timedelta(minutes=1)
        doc.update(deadline=moment, deadline_ms=epoch_ms(moment))
        await tx.db.campaigns.replace_one({"_id": campaign_id}, doc, session=tx.session)

    try:
        await mongo.transact(past)
    finally:
        await mongo.close()


def move_deadline_to_the_past(mongo_url: str, lock_dir: Path, campaign_id: str) -> None:
    """The same, for code outside an event loop (the runner's and chaos run's threads)."""
    asyncio.run(end_campaign_now(mongo_url, lock_dir, campaign_id))
