"""Demo people. Until the gateway's accounts API exists (issue: gateway), tokens are minted
with the local gateway's development key (var/keys/current.pem); that is the one place the
seed does not go through the public API."""

from __future__ import annotations

import uuid

from servicekit.signing import SigningKey, access_claims

from .context import Demo, Person

PEOPLE = [
    Person("admin", "admin@civicfund.localhost", "Platform admin", "admin-demo-password", "en"),
    Person(
        "montreuil_manager",
        "claire.martin@montreuil.localhost",
        "Claire Martin (Montreuil)",
        "demo-password-1",
    ),
    Person(
        "montreuil_reviewer", "yusuf.kaya@montreuil.localhost", "Yusuf Kaya (Montreuil)", "demo-password-2"
    ),
    Person("amina", "amina@example.localhost", "Amina Diallo", "demo-password-3"),
    Person("lucas", "lucas@example.localhost", "Lucas Bernard", "demo-password-4", "en"),
    Person("sofia", "sofia@example.localhost", "Sofia Rossi", "demo-password-5"),
]


async def run(demo: Demo) -> None:
    key = SigningKey.from_pem((demo.var / "keys" / "current.pem").read_bytes())
    for person in PEOPLE:
        person.user_id = person.user_id or f"usr_{uuid.uuid5(uuid.NAMESPACE_URL, person.email).hex}"
        roles = ["citizen", "admin"] if person.key == "admin" else ["citizen"]
        munis = {"montreuil": "manager"} if person.key == "montreuil_manager" else {}
        if person.key == "montreuil_reviewer":
            munis = {"montreuil": "reviewer"}
        claims = access_claims(
            person.user_id,
            issuer="civicfund-gateway",
            audience="civicfund",
            ttl_s=3600,
            roles=roles,
            municipalities=munis,
        )
        person.token = key.sign(claims)
        demo.people[person.key] = person
