"""localstripe whose state survives a restart, kept in the stack's own `var/`.

Payments stores Stripe ids (customers, payment methods, setup intents); a localstripe that
starts empty after `make up` -> Ctrl-C -> `make up` no longer knows them, and the next pledge
fails. localstripe can already reload a pickle of its store, but from one fixed path in /tmp
shared by every localstripe on the machine (the tests' too); this runs the same server with
the file under the stack's `var/`, written atomically (a crash mid-write keeps the old state),
and keeps the webhook endpoints registered with it as well, so a restarted localstripe alone
still delivers to payments.

    python -m devstack.localstripe_state --port 8420 --state var/localstripe/state.pickle
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path
from typing import Any

from localstripe import resources, server, webhooks

from devstack import localstripe_connect, localstripe_disputes, localstripe_invoices


def install(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)

    def load(store: resources.Store) -> None:
        if not path.exists():
            return
        with open(path, "rb") as f:
            saved: dict[str, Any] = pickle.load(f)  # noqa: S301 - our own file, written by dump below
        store.clear()
        dict.update(store, saved["store"])
        webhooks._webhooks.update(saved["webhooks"])

    def dump(store: resources.Store) -> None:
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(
                {"store": dict(store), "webhooks": webhooks._webhooks}, f, protocol=pickle.HIGHEST_PROTOCOL
            )
        os.replace(tmp, path)

    original_register = webhooks.register_webhook

    def register_and_save(*args: Any) -> None:
        original_register(*args)
        dump(resources.store)

    resources.Store.try_load_from_disk = load  # type: ignore[method-assign]
    resources.Store.dump_to_disk = dump  # type: ignore[method-assign]
    # server.py imported the function itself: replace the name it calls.
    server.register_webhook = register_and_save  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state", required=True, help="the state file (created when missing)")
    args = parser.parse_args()
    install(Path(args.state))
    localstripe_connect.install()  # accounts, account links, transfers (payouts)
    localstripe_invoices.install()  # one-off invoices (cities' match dues)
    localstripe_disputes.install()  # disputes on charges (refunds and disputes)
    sys.argv = ["localstripe", "--port", str(args.port)]  # without --from-scratch: load the state
    server.start()


if __name__ == "__main__":
    main()
