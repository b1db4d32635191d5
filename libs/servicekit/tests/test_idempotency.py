"""Idempotency-Key, one behaviour: replay, reuse, concurrency, rollback; over real HTTP on nx-27017."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from servicekit.app import ServiceContext, component, create_service_app
from servicekit.auth import PrincipalDep
from servicekit.errors import DomainError
from servicekit.idempotency import (
    Idempotency,
    IdempotencyDep,
    IdempotencyKey,
    OptionalIdempotencyKey,
    StoredAnswer,
    required_key,
)
from servicekit.mongo import Mongo, Tx
from servicekit.settings import ServiceSettings
from servicekit.testing.helpers import eventually
from servicekit.testing.plugin import TestEnv
from servicekit.testing.server import serve


class GiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(ge=1)
    fail_after_write: bool = False


class GiftOut(BaseModel):
    id: str
    amount: int
    number: int


class Calls:
    """Counts how often the action really ran, and lets a test hold the slow path open."""

    def __init__(self) -> None:
        self.count = 0
        self.gate = asyncio.Event()
        self.gate.set()


CallsDep = Annotated[Calls, Depends(component(Calls))]
MongoDep = Annotated[Mongo, Depends(component(Mongo))]
router = APIRouter()


async def _give(tx: Tx, calls: Calls, body: GiftIn) -> GiftOut:
    calls.count += 1
    gift = {"_id": f"gft_{uuid.uuid4().hex}", "amount": body.amount, "number": calls.count}
    await tx.db.gifts.insert_one(gift, session=tx.session)
    if body.fail_after_write:
        raise DomainError("gift_refused", 422, "refused after writing")
    return GiftOut(id=gift["_id"], amount=gift["amount"], number=gift["number"])


@router.post("/gifts", status_code=201, response_model=GiftOut)
async def give(
    body: GiftIn,
    principal: PrincipalDep,
    idem: IdempotencyDep,
    key: IdempotencyKey,
    mongo: MongoDep,
    calls: CallsDep,
) -> Any:
    async def work(tx: Tx) -> GiftOut | StoredAnswer:
        return await idem.run(
            tx, scope=f"gift|{principal.sub}", key=key, request=body, action=lambda: _give(tx, calls, body)
        )

    result = await mongo.transact(work)
    return result.value if isinstance(result, StoredAnswer) else result


@router.post("/gifts-maybe", status_code=201, response_model=GiftOut)
async def give_maybe(
    body: GiftIn,
    principal: PrincipalDep,
    idem: IdempotencyDep,
    mongo: MongoDep,
    calls: CallsDep,
    key: OptionalIdempotencyKey = None,
) -> Any:
    if body.amount > 100:
        key = required_key(key)  # big gifts need a key

    async def work(tx: Tx) -> Any:
        return await idem.run(
            tx,
            scope=f"gift|{principal.sub}",
            key=key,
            request=body,
            action=lambda: _give(tx, calls, body),
            decode=GiftOut.model_validate,
        )

    return await mongo.transact(work)


@router.post("/slow-gifts", status_code=201, response_model=GiftOut)
async def give_slowly(
    body: GiftIn,
    principal: PrincipalDep,
    idem: IdempotencyDep,
    key: IdempotencyKey,
    mongo: MongoDep,
    calls: CallsDep,
) -> Any:
    """The begin/complete form: the outside call (here a wait) happens between transactions."""
    claim = await idem.begin(f"slow|{principal.sub}", key, body)
    if claim.replayed:
        assert claim.stored is not None
        return claim.stored.value
    try:
        await calls.gate.wait()
        if body.fail_after_write:
            raise DomainError("provider_down", 502, "the outside system failed")

        async def record(tx: Tx) -> GiftOut:
            gift = await _give(tx, calls, body)
            await claim.complete_in(tx, gift)
            return gift

        return await mongo.transact(record)
    except BaseException:
        await claim.release()
        raise


async def _start(ctx: ServiceContext) -> None:
    ctx.provide(Calls())


def _app(env: TestEnv, test_contracts: Path):  # type: ignore[no-untyped-def]
    settings = env.settings(ServiceSettings, "kitidem", contracts_dir=str(test_contracts))
    return create_service_app(
        settings, title="kit", routers=[router], collections=["gifts"], on_startup=[_start], use_bus=False
    )


async def _gifts(app: Any) -> int:
    return len(await app.state.ctx.mongo.db.gifts.find({}).to_list())


async def test_same_key_same_body_replays_the_answer_without_running_again(
    env: TestEnv, test_contracts: Path
) -> None:
    app = _app(env, test_contracts)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        auth = env.issuer.headers("u-1")
        key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        first = await client.post("/gifts", json={"amount": 5}, headers={**auth, **key})
        again = await client.post("/gifts", json={"amount": 5}, headers={**auth, **key})
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert app.state.ctx.get(Calls).count == 1 and await _gifts(app) == 1

        reused = await client.post("/gifts", json={"amount": 6}, headers={**auth, **key})
        assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"

        # Another user's identical key is another scope: it does the work for them.
        other = await client.post("/gifts", json={"amount": 5}, headers={**env.issuer.headers("u-2"), **key})
        assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
        assert await _gifts(app) == 2


async def test_header_rules_are_checked_and_documented(env: TestEnv, test_contracts: Path) -> None:
    app = _app(env, test_contracts)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        auth = env.issuer.headers("u-1")
        missing = await client.post("/gifts", json={"amount": 5}, headers=auth)
        assert missing.status_code == 422
        error = missing.json()["error"]
        assert error["code"] == "validation_error" and error["details"][0]["loc"] == [
            "header",
            "Idempotency-Key",
        ]
        for bad in ("short", "x" * 201, "has space in it"):
            response = await client.post(
                "/gifts", json={"amount": 5}, headers={**auth, "Idempotency-Key": bad}
            )
            assert response.status_code == 422, bad

        # Optional header: absent is fine for small gifts (no replay protection), required for big ones.
        small = await client.post("/gifts-maybe", json={"amount": 5}, headers=auth)
        assert small.status_code == 201
        big = await client.post("/gifts-maybe", json={"amount": 500}, headers=auth)
        assert big.status_code == 422 and big.json()["error"]["details"][0]["loc"] == [
            "header",
            "Idempotency-Key",
        ]
        key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        first = await client.post("/gifts-maybe", json={"amount": 500}, headers={**auth, **key})
        again = await client.post("/gifts-maybe", json={"amount": 500}, headers={**auth, **key})
        assert first.status_code == again.status_code == 201 and first.json() == again.json()

        doc = (await client.get("/openapi.json")).json()
        params = {p["name"]: p for p in doc["paths"]["/gifts"]["post"]["parameters"]}
        header = params["Idempotency-Key"]
        assert header["in"] == "header" and header["required"] is True
        assert header["schema"]["minLength"] == 8 and header["schema"]["maxLength"] == 200
        assert header["schema"]["pattern"] and "request_in_progress" in header["description"]
        optional = {p["name"]: p for p in doc["paths"]["/gifts-maybe"]["post"]["parameters"]}
        assert optional["Idempotency-Key"]["required"] is False


async def test_a_rolled_back_transaction_stores_no_answer(env: TestEnv, test_contracts: Path) -> None:
    app = _app(env, test_contracts)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        auth = env.issuer.headers("u-1")
        key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        refused = await client.post(
            "/gifts", json={"amount": 5, "fail_after_write": True}, headers={**auth, **key}
        )
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "gift_refused"
        assert await _gifts(app) == 0  # the write and the key record went together
        assert await app.state.ctx.mongo.db.idempotency.find_one({}) is None
        # Same key, same (failing) body: the work runs again, not a stored refusal.
        again = await client.post(
            "/gifts", json={"amount": 5, "fail_after_write": True}, headers={**auth, **key}
        )
        assert again.status_code == 422 and app.state.ctx.get(Calls).count == 2


async def test_concurrent_requests_with_one_key_do_the_work_once(env: TestEnv, test_contracts: Path) -> None:
    app = _app(env, test_contracts)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        auth = env.issuer.headers("u-1")
        key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        answers = await asyncio.gather(
            *(client.post("/gifts", json={"amount": 5}, headers={**auth, **key}) for _ in range(5))
        )
        ok = [a for a in answers if a.status_code == 201]
        assert ok and all(a.status_code in (201, 409) for a in answers)
        assert {a.json()["id"] for a in ok} == {ok[0].json()["id"]}
        for a in answers:
            if a.status_code == 409:
                assert a.json()["error"]["code"] == "request_in_progress"
        assert await _gifts(app) == 1


async def test_begin_holds_the_key_while_in_progress_then_replays(env: TestEnv, test_contracts: Path) -> None:
    app = _app(env, test_contracts)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        calls: Calls = app.state.ctx.get(Calls)
        auth = env.issuer.headers("u-1")
        key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        calls.gate.clear()
        first = asyncio.create_task(client.post("/slow-gifts", json={"amount": 5}, headers={**auth, **key}))
        # The first request holds the key, waiting on the "provider".
        await eventually(lambda: app.state.ctx.mongo.db.idempotency.find_one({"state": "pending"}))
        busy = await client.post("/slow-gifts", json={"amount": 5}, headers={**auth, **key})
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "request_in_progress"
        other = await client.post("/slow-gifts", json={"amount": 6}, headers={**auth, **key})
        assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
        calls.gate.set()
        done = await first
        assert done.status_code == 201
        replay = await client.post("/slow-gifts", json={"amount": 5}, headers={**auth, **key})
        assert replay.status_code == 201 and replay.json() == done.json()
        assert calls.count == 1


async def test_a_failed_claim_is_released_so_the_client_may_retry(env: TestEnv, test_contracts: Path) -> None:
    app = _app(env, test_contracts)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        auth = env.issuer.headers("u-1")
        key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        failed = await client.post(
            "/slow-gifts", json={"amount": 5, "fail_after_write": True}, headers={**auth, **key}
        )
        assert failed.status_code == 502
        assert await app.state.ctx.mongo.db.idempotency.find_one({}) is None
        ok = await client.post(
            "/slow-gifts", json={"amount": 5, "fail_after_write": True}, headers={**auth, **key}
        )
        assert ok.status_code == 502  # ran again (not a stored failure, not "in progress")


async def test_an_expired_claim_is_taken_over(env: TestEnv, test_contracts: Path) -> None:
    settings = env.settings(ServiceSettings, "kitidem", contracts_dir=str(test_contracts))
    mongo = Mongo(settings)
    await mongo.connect([], ["idempotency"])
    try:
        idem = Idempotency(mongo, lease_s=1.5)
        first = await idem.begin("s", "key-12345", {"a": 1})
        assert not first.replayed
        with pytest.raises(DomainError) as busy:
            await idem.begin("s", "key-12345", {"a": 1})
        assert busy.value.code == "request_in_progress" and busy.value.status == 409
        await asyncio.sleep(1.6)  # the first holder "died": its lease runs out
        second = await idem.begin("s", "key-12345", {"a": 1})
        await first.complete({"late": True})  # no longer the holder: stores nothing
        await second.complete({"n": 2}, status=201)
        replay = await idem.begin("s", "key-12345", {"a": 1})
        assert replay.replayed and replay.stored == StoredAnswer({"n": 2}, 201)
        no_key = await idem.begin("s", None, {"a": 1})
        assert not no_key.replayed
        await no_key.complete({"ignored": True})  # nothing to record without a key
    finally:
        await mongo.close()


async def test_a_claim_completed_in_a_failed_transaction_can_be_released(
    env: TestEnv, test_contracts: Path
) -> None:
    settings = env.settings(ServiceSettings, "kitidem", contracts_dir=str(test_contracts))
    mongo = Mongo(settings)
    await mongo.connect([], ["idempotency", "gifts"])
    try:
        idem = Idempotency(mongo)
        claim = await idem.begin("s", "key-abcdefgh", {"a": 1})

        async def record(tx: Tx) -> None:
            await tx.db.gifts.insert_one({"_id": "g1"}, session=tx.session)
            await claim.complete_in(tx, {"gift": "g1"})
            raise DomainError("conflict_after_stripe", 409)

        with pytest.raises(DomainError):
            await mongo.transact(record)
        await claim.release()  # the answer never committed: the key is free again
        again = await idem.begin("s", "key-abcdefgh", {"a": 1})
        assert not again.replayed

        async def record_ok(tx: Tx) -> None:
            await tx.db.gifts.insert_one({"_id": "g2"}, session=tx.session)
            await again.complete_in(tx, {"gift": "g2"})

        await mongo.transact(record_ok)
        await again.release()  # after a commit: nothing to release
        replay = await idem.begin("s", "key-abcdefgh", {"a": 1})
        assert replay.stored == StoredAnswer({"gift": "g2"})
    finally:
        await mongo.close()
