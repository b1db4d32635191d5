"""Ops tool for parking queues: list what is parked and why, or move it back to its queue.

    python -m servicekit.replay list campaigns.funding
    python -m servicekit.replay replay campaigns.funding [--limit 10]

Uses AMQP_URL and BUS_NAMESPACE from the environment, like the services.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import aio_pika

from .bus import describe_parked
from .settings import ServiceSettings


async def _run(command: str, queue: str, limit: int) -> int:
    settings = ServiceSettings()
    name = settings.ns(queue)
    connection = await aio_pika.connect_robust(settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        dead = await channel.get_queue(f"{name}.dead", ensure=True)
        seen = 0
        held = []
        while seen < limit:
            message = await dead.get(no_ack=False, fail=False)
            if message is None:
                break
            seen += 1
            if command == "list":
                print(json.dumps(describe_parked(message), default=str))
                held.append(message)
                continue
            headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
            await channel.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message.message_id,
                    headers=headers,
                ),
                routing_key=name,
            )
            await message.ack()
            print(f"replayed {message.message_id}")
        for message in held:  # `list` only looks: put everything back
            await message.nack(requeue=True)
    print(f"{seen} message(s)")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("queue", help="consumer queue name without namespace, e.g. campaigns.funding")
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(_run(args.command, args.queue, args.limit)))


if __name__ == "__main__":
    main()
