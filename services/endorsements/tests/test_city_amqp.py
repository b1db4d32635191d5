"""City systems on AMQP: a city's user reads its own public events and cannot bind to
another city's routing keys (real RabbitMQ topic permissions via the management API)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote, urlparse

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused, ChannelInvalidStateError

from endorsements.city_amqp import delete_city_user
from servicekit.events import new_event
from servicekit.testing.helpers import eventually


def _url_for(amqp_url: str, username: str, password: str, vhost: str) -> str:
    parsed = urlparse(amqp_url)
    return f"amqp://{username}:{quote(password, safe='')}@{parsed.hostname}:{parsed.port or 5672}/{quote(vhost, safe='')}"


async def test_city_user_is_limited_to_its_own_routing_keys(svc) -> None:
    city_a = await svc.city()
    city_b = await svc.city()
    r = await svc.http.post(f"/municipalities/{city_a}/amqp-user", headers=svc.who("usr_not_admin"))
    assert r.status_code == 403
    await svc.appoint(city_a, "usr_reviewer_a", "reviewer")
    await svc.appoint(city_b, "usr_manager_b", "manager")
    await svc.appoint(city_a, "usr_manager_a", "manager")
    for outsider in ("usr_reviewer_a", "usr_manager_b"):  # a reviewer; another city's manager
        r = await svc.http.post(f"/municipalities/{city_a}/amqp-user", headers=svc.who(outsider))
        assert r.status_code == 403, outsider
    r = await svc.http.post(f"/municipalities/{city_a}/amqp-user", headers=svc.admin)
    assert r.status_code == 201, r.text
    # The city's manager gets them too (the password is reset: this answer is the valid one).
    r = await svc.http.post(f"/municipalities/{city_a}/amqp-user", headers=svc.who("usr_manager_a"))
    assert r.status_code == 201, r.text
    creds = r.json()
    assert creds["username"] == f"city-{city_a}" and creds["binding_pattern"] == f"{city_a}.#"
    # The exchange name carries this deployment's namespace (a per-session prefix in tests).
    assert creds["exchange"] == svc.ctx.settings.ns("civicfund.public")
    url = _url_for(svc.env.amqp_url, creds["username"], creds["password"], creds["vhost"])
    connection = await aio_pika.connect_robust(url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(creds["exchange"], ensure=False)
        queue = await channel.declare_queue(f"{creds['username']}.inbox", exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=f"{city_a}.endorsement.*")
        got: list[aio_pika.abc.AbstractIncomingMessage] = []

        async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            got.append(message)
            await message.ack()

        await queue.consume(collect)
        for slug in (city_b, city_a):
            event = new_event("endorsements", "public.endorsement.granted", "end_1",
                              {"endorsement_id": "end_1", "campaign_id": "c", "municipality": slug, "status": "granted"})  # fmt: skip
            await svc.ctx.bus.publish(event, exchange="public", routing_key=f"{slug}.endorsement.granted")
        await eventually(lambda: len(got) == 1)
        assert json.loads(got[0].body)["data"]["municipality"] == city_a

        for forbidden in (f"{city_b}.endorsement.*", "#", "*.endorsement.granted"):
            refused = await connection.channel()
            q = await refused.declare_queue(f"{creds['username']}.{len(forbidden)}", exclusive=True)
            with pytest.raises(ChannelAccessRefused):
                await q.bind(creds["exchange"], routing_key=forbidden)
        # Publishing on the public exchange is not allowed either (city systems only read).
        writer = await connection.channel(publisher_confirms=True)
        public = await writer.get_exchange(creds["exchange"], ensure=False)
        with pytest.raises((ChannelAccessRefused, ChannelInvalidStateError)):
            await public.publish(aio_pika.Message(b"{}"), routing_key=f"{city_a}.endorsement.granted")
            await asyncio.sleep(0)
        # Nor may it touch queues outside its own names.
        other = await connection.channel()
        with pytest.raises(ChannelAccessRefused):
            await other.declare_queue("stolen-queue", exclusive=True)
    finally:
        await connection.close()
        await delete_city_user(svc.ctx.settings, city_a)
