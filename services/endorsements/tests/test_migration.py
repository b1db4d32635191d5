"""Labels were stored in `endorsements` (and commitments named theirs `endorsement_id`): the
start-up migration moves that data under the new names, and the API keeps serving it."""

from __future__ import annotations

from endorsements import store


async def test_old_collection_and_field_names_are_migrated(svc) -> None:
    db = svc.ctx.mongo.db
    slug = await svc.city()
    label = {"_id": "end_old1", "campaign_id": "cmp_old", "municipality": slug, "owner_id": "usr_a",
             "status": "granted", "origin": "owner", "open_key": f"cmp_old|{slug}", "currency": "EUR",
             "support": [], "in_kind_value": 0, "commitment_ids": ["mc_old1"], "history": [], "version": 2}  # fmt: skip
    commitment = {"_id": "mc_old1", "campaign_id": "cmp_old", "endorsement_id": "end_old1", "municipality": slug,
                  "pool_id": "pool_x", "currency": "EUR", "rule": {"condition": "instant", "ratio": 1.0,
                  "cap_per_project": 1000}, "max_amount": 1000, "given": 0, "status": "active"}  # fmt: skip
    await db.endorsements.insert_one(label)
    await db.commitments.insert_one(commitment)

    await store.migrate(db)
    await store.migrate(db)  # idempotent: a second replica (or restart) changes nothing

    assert "endorsements" not in await db.list_collection_names()
    r = await svc.http.get("/labels/end_old1")
    assert r.status_code == 200 and r.json()["commitment_ids"] == ["mc_old1"]
    r = await svc.http.get("/commitments/mc_old1")
    assert r.json()["label_id"] == r.json()["endorsement_id"] == "end_old1"
    assert "endorsement_id" not in await db.commitments.find_one({"_id": "mc_old1"})
