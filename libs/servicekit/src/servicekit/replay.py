"""Ops tool for parking queues: list what is parked and why, or move it back to its queue.

    python -m servicekit.replay list campaigns.funding
    python -m servicekit.replay replay campaigns.funding [--limit 10]

Uses AMQP_URL and BUS_NAMESPACE from the environment, like the services. The same operations
over HTTP, for admins: `servicekit.parked` (`GET /ops/parked`, `POST /ops/parked/{queue}/replay`).
"""

from __future__ import annotations

import argparse
import asyncio
import json

import aio_pika

from .parked import peek, replay
from .settings import ServiceSettings


async def _run(command: str, queue: str, limit: int) -> int:
    settings = ServiceSettings()
    name = settings.ns(queue)
    connection = await aio_pika.connect_robust(settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        if command == "list":
            found = await peek(channel, name, limit)
            for parked in found:
                print(json.dumps(parked, default=str))
            seen = len(found)
        else:
            moved = await replay(channel, name, limit)
            for message_id in moved:
                print(f"replayed {message_id}")
            seen = len(moved)
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
