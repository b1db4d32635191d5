"""AMQP users for city systems, limited by RabbitMQ topic permissions to their own city.

A city's user `city-<slug>` may declare only its own queues (named `city-<slug>.<anything>`,
or server-named `amq.gen-*`), read only from the public exchange, and bind only routing keys starting with `<slug>.`: RabbitMQ checks
a binding's key against the user's topic `read` pattern, so `montreuil.#` is allowed and
`bagnolet.#` or `#` are refused.

    python -m endorsements.city_amqp montreuil      # prints the credentials once
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlparse

import httpx

from .settings import Settings


class RabbitAdminError(RuntimeError):
    pass


@dataclass(frozen=True)
class CityAmqpUser:
    username: str
    password: str
    vhost: str
    exchange: str
    binding_pattern: str


def vhost_of(amqp_url: str) -> str:
    path = urlparse(amqp_url).path
    return unquote(path[1:]) if path not in ("", "/") else "/"


def username_for(slug: str) -> str:
    return f"city-{slug}"


async def create_city_user(settings: Settings, slug: str) -> CityAmqpUser:
    """Create (or reset the password of) the city's user and set its permissions."""
    if not re.fullmatch(r"[a-z0-9-]{2,60}", slug):
        raise ValueError("bad municipality slug")
    vhost = vhost_of(settings.amqp_url)
    exchange = settings.ns(settings.public_exchange)
    username = username_for(slug)
    password = secrets.token_urlsafe(24)
    own_queues = rf"^(amq\.gen-.*|{re.escape(username)}\..*)$"
    ex = re.escape(exchange)
    async with _client(settings) as http:
        await _call(http, "PUT", f"/api/users/{quote(username, safe='')}", {"password": password, "tags": ""})
        await _call(
            http,
            "PUT",
            f"/api/permissions/{quote(vhost, safe='')}/{quote(username, safe='')}",
            # configure/write: only its own server-named queues (binding needs write on the
            # queue); read: those queues and the public exchange.
            {"configure": own_queues, "write": own_queues, "read": f"{own_queues}|^{ex}$"},
        )
        await _call(
            http,
            "PUT",
            f"/api/topic-permissions/{quote(vhost, safe='')}/{quote(username, safe='')}",
            {"exchange": exchange, "write": "^$", "read": f"^{re.escape(slug)}\\."},
        )
    return CityAmqpUser(username, password, vhost, exchange, f"{slug}.#")


async def delete_city_user(settings: Settings, slug: str) -> None:
    async with _client(settings) as http:
        await _call(http, "DELETE", f"/api/users/{quote(username_for(slug), safe='')}", None, ok=(204, 404))


def _client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=settings.rabbit_management_url,
        auth=(settings.rabbit_management_user, settings.rabbit_management_password),
        timeout=10,
    )


async def _call(
    http: httpx.AsyncClient, method: str, path: str, body: dict | None, ok: tuple[int, ...] = (201, 204)
) -> None:
    try:
        response = await http.request(method, path, json=body)
    except httpx.HTTPError as exc:
        raise RabbitAdminError(f"RabbitMQ management API unreachable: {exc}") from exc
    if response.status_code not in ok:
        raise RabbitAdminError(f"{method} {path} -> {response.status_code}: {response.text[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Create a city's AMQP user limited to its own events")
    parser.add_argument("slug")
    parser.add_argument("--delete", action="store_true", help="delete the city's user instead")
    args = parser.parse_args()
    settings = Settings()
    if args.delete:
        asyncio.run(delete_city_user(settings, args.slug))
        print(f"deleted {username_for(args.slug)}")
        return
    user = asyncio.run(create_city_user(settings, args.slug))
    print(f"user: {user.username}\npassword: {user.password}\nvhost: {user.vhost}")
    print(f"exchange: {user.exchange}\nbind with: {user.binding_pattern} (e.g. {args.slug}.label.*)")


if __name__ == "__main__":
    main()
