"""The public forms of this service's events, for city systems outside the platform.

One allow-list per public event type: a field reaches `civicfund.public` only if it is named
here, so a field added to an internal event stays internal until someone decides otherwise.
The same declarations build the public contracts (`contracts/events/public.<type>.json`, which
reference the internal contract's shared definitions) and `contracts/asyncapi.yaml`:

    python -m endorsements.public_forms          # rewrite them from the declarations
    python -m endorsements.public_forms --check  # exit 1 if a file differs (also a test)
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servicekit.events import Contracts


@dataclass(frozen=True)
class PublicForm:
    key: str  # the internal routing key; public routing key `<slug>.<key>`, type `public.<key>`
    fields: tuple[str, ...]


_LABEL = ("campaign_id", "municipality", "status", "reason", "support", "in_kind_value", "currency")
_MATCH = (
    "commitment_id", "campaign_id", "municipality", "pool_id", "currency", "rule", "max_amount",
    "amount", "counts_toward_goal", "label_id", "endorsement_id",
)  # fmt: skip
_CALL = (
    "call_id", "municipality", "title", "theme", "budget", "max_award", "currency", "selection_mode",
    "submission_opens_at", "submission_closes_at", "vote_opens_at", "vote_closes_at",
)  # fmt: skip
_PROPOSAL = ("call_id", "proposal_id", "municipality", "title", "campaign_id", "note")
LABEL_VERBS = ("requested", "granted", "declined", "revoked")

# call.vote_cast has no public form: ballots stay internal.
PUBLIC_FORMS: dict[str, PublicForm] = {
    f.key: f
    for f in (
        *(PublicForm(f"label.{verb}", ("label_id", *_LABEL)) for verb in LABEL_VERBS),
        # The label's older name, published beside label.* for one release.
        *(PublicForm(f"endorsement.{verb}", ("endorsement_id", *_LABEL)) for verb in LABEL_VERBS),
        PublicForm("match.committed", _MATCH),
        PublicForm("match.applied", (*_MATCH, "application_id", "payment_id")),
        PublicForm("match.released", _MATCH),
        PublicForm("match.canceled", (*_MATCH, "reason", "returned_to_pool")),
        PublicForm("call.opened", _CALL),
        PublicForm("call.closed", _CALL),
        PublicForm("call.proposal_submitted", _PROPOSAL),
        PublicForm("call.proposal_shortlisted", _PROPOSAL),
        PublicForm(
            "call.proposal_selected",
            (
                *_PROPOSAL,
                "award",
                "currency",
                "commitment_id",
                "endorsement_id",
                "goal",
                "category",
                "summary",
                "funding_model",
                "deadline",
            ),
        ),
    )
}


def public_data(key: str, data: dict[str, Any]) -> dict[str, Any]:
    """The public form of an internal event's data: only the allow-listed fields."""
    allowed = PUBLIC_FORMS[key].fields
    return {k: data[k] for k in allowed if k in data}


def _summary(internal: dict[str, Any]) -> str:
    return internal["title"].split(": ", 1)[1]


def public_schema(form: PublicForm, contracts: Contracts) -> dict[str, Any]:
    """The public contract: the internal one restricted to the allow-list. It references the
    same shared definition (`contracts/defs/`) when every field of that definition is public,
    and keeps only the allowed fields the internal file adds itself, so nothing is copied."""
    internal = contracts.schema_for(form.key)
    resolved = contracts.resolved_schema_for(form.key)
    missing = [f for f in form.fields if f not in resolved.get("properties", {})]
    if missing:
        raise ValueError(f"{form.key}: allow-listed fields missing from its contract: {missing}")
    schema: dict[str, Any] = {
        "$schema": internal["$schema"],
        "title": f"public.{form.key} (on civicfund.public as <municipality-slug>.{form.key}): "
        + _summary(internal),
        "type": "object",
    }
    if "$ref" in internal:
        path = contracts.directory / "events" / f"{form.key}.json"
        target = (
            contracts.registry.resolver(base_uri=contracts.uri_of(path)).lookup(internal["$ref"]).contents
        )
        private = sorted(set(target.get("properties", {})) - set(form.fields))
        if private:
            raise ValueError(f"{form.key}: {internal['$ref']} holds fields its public form omits: {private}")
        schema["$ref"] = internal["$ref"]
    required = [f for f in internal.get("required", []) if f in form.fields]
    if required:
        schema["required"] = required
    properties = {k: v for k, v in internal.get("properties", {}).items() if k in form.fields}
    if properties:
        schema["properties"] = properties
    schema["description"] = (
        "Stable public form for city systems, generated from the endorsements service's allow-list "
        "(endorsements.public_forms): no user ids, no emails."
    )
    return schema


_INFO = """\
Label, match-funding and call-for-projects events of one city, in their stable public
form (no user ids, no emails), published by the endorsements service on the topic exchange
`civicfund.public` with routing key `<municipality-slug>.<entity>.<verb>`
(e.g. `montreuil.label.granted`). `endorsement.*` is the older name of `label.*`: both are
published, with the same data (the id named `endorsement_id` there), for one release.

Each message is a CloudEvents 1.0 structured JSON envelope (`content_type`
`application/cloudevents+json`, schema `cloudevent.json`) whose `type` is
`org.civicfund.public.<entity>.<verb>` and whose `data` follows
`events/public.<entity>.<verb>.json`. Changes are additive; a breaking change is a new type.
Delivery is at least once: deduplicate on the envelope `id`.

Access: an admin creates the city's AMQP user with
`POST /api/v1/endorsements/municipalities/<slug>/amqp-user` (or
`python -m endorsements.city_amqp <slug>`). That user may declare queues named
`city-<slug>.<anything>` (or server-named ones), bind them to `civicfund.public` only with
routing keys starting with `<slug>.` (RabbitMQ topic permissions refuse other cities' keys
and `#`), and cannot publish. Cities that cannot speak AMQP register signed HTTPS webhooks
with the notifications service instead (Standard Webhooks signatures).

The same messages are readable over HTTPS, in commit order, for a system catching up after
downtime: `GET /api/v1/endorsements/municipalities/<slug>/events?after=<cursor>&limit=<n>` with
the city's client-credentials token (`POST /oauth/token`) answers `{"items": [{"cursor",
"routing_key", "event"}], "next_cursor", "has_more"}`, where `event` is the envelope exactly as
published here.
"""


def asyncapi_document(contracts: Contracts) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for form in PUBLIC_FORMS.values():
        name = form.key.replace(".", "_")
        channels[name] = {
            "address": f"{{municipality}}.{form.key}",
            "description": _summary(contracts.schema_for(form.key)),
            "parameters": {"municipality": {"description": "the city's slug, e.g. montreuil"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": "civicfund.public",
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": "0.3.0",
                }
            },
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"receive_{name}"] = {"action": "receive", "channel": {"$ref": f"#/channels/{name}"}}
        messages[name] = {
            "name": f"org.civicfund.public.{form.key}",
            "contentType": "application/cloudevents+json",
            "payload": {
                "allOf": [
                    {"$ref": "cloudevent.json"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": f"org.civicfund.public.{form.key}"},
                            "data": {"$ref": f"events/public.{form.key}.json"},
                        },
                    },
                ]
            },
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Civicfund public events for city systems",
            "version": "1.0.0",
            "description": _INFO,
        },
        "servers": {
            "local": {
                "host": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "the local stack's RabbitMQ (virtual host `/`)",
            },
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered(contracts: Contracts) -> dict[Path, str]:
    """Every generated file and its content."""
    import yaml  # a development dependency: only this generator and its test need it

    files = {}
    for form in PUBLIC_FORMS.values():
        schema = public_schema(form, contracts)
        files[contracts.directory / "events" / f"public.{form.key}.json"] = (
            json.dumps(schema, indent=2) + "\n"
        )
    document = yaml.safe_dump(asyncapi_document(contracts), sort_keys=False, width=100, allow_unicode=True)
    files[contracts.directory / "asyncapi.yaml"] = document
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the public contracts from the allow-lists")
    parser.add_argument("--check", action="store_true", help="only report files that differ")
    args = parser.parse_args()
    stale = []
    for path, text in rendered(Contracts()).items():
        if not path.is_file() or path.read_text() != text:
            stale.append(path)
            if not args.check:
                path.write_text(text)
    for path in stale:
        print(("differs: " if args.check else "wrote: ") + str(path))
    sys.exit(1 if args.check and stale else 0)


if __name__ == "__main__":
    main()
