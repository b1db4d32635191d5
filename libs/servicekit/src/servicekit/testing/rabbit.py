"""Clean up a test run's broker objects: everything whose name starts with its namespace.

Test runs share the default vhost and keep apart by a unique name prefix (BUS_NAMESPACE).
Per-run vhosts were tried first: RabbitMQ 3.10 wedged (vhost add/delete and then every new
connection hung) when several runs created and deleted vhosts full of quorum queues at once.
Deleting queues and exchanges one by one through the management API is an ordinary operation.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import quote, unquote, urlparse

import httpx

MANAGEMENT_URL = os.environ.get("RABBIT_MANAGEMENT_URL", "http://127.0.0.1:15672")


def delete_namespace(amqp_url: str, namespace: str, timeout_s: float = 60.0) -> int:
    """Delete the queues and exchanges named `<namespace>...`; returns how many went. Best effort:
    a broker without the management plugin keeps them (they are durable but idle), and that is
    said on stderr: idle quorum queues hold file handles, and a few hundred left behind make
    RabbitMQ stop accepting connections (`python -m devstack.rabbit` enables the plugin)."""
    if not namespace:
        raise ValueError("refusing to delete everything: empty namespace")
    parsed = urlparse(amqp_url)
    vhost = unquote(parsed.path[1:]) if parsed.path not in ("", "/") else "/"
    auth = (unquote(parsed.username or "guest"), unquote(parsed.password or "guest"))
    v = quote(vhost, safe="")
    deleted = 0
    try:
        with httpx.Client(base_url=MANAGEMENT_URL, auth=auth, timeout=timeout_s) as client:
            for kind in ("queues", "exchanges"):
                listing = client.get(f"/api/{kind}/{v}", params={"columns": "name"})
                if listing.status_code != 200:
                    _left(namespace, f"the management API answered {listing.status_code}")
                    return deleted
                for item in listing.json():
                    name = item["name"]
                    if name.startswith(namespace):
                        client.delete(f"/api/{kind}/{v}/{quote(name, safe='')}")
                        deleted += 1
    except httpx.HTTPError as exc:
        _left(namespace, f"no management API at {MANAGEMENT_URL} ({type(exc).__name__})")
    return deleted


def _left(namespace: str, why: str) -> None:
    print(
        f"broker objects {namespace}* left on the broker: {why}; "
        "`python -m devstack.rabbit` enables the management plugin, `--sweep` deletes them",
        file=sys.stderr,
    )
