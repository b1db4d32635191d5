"""Demo people, through the public API: register (or find the account already there) and log
in. The admin is an admin because the local stack lists admin@civicfund.localhost in the
gateway's ADMIN_EMAILS; the Montreuil officials get their roles when the cities step appoints
them (it then calls `demo.relogin(person)`)."""

from __future__ import annotations

from .context import Demo, Person

PEOPLE = [
    Person("admin", "admin@civicfund.localhost", "Platform admin", "admin-demo-password", "en"),
    Person(
        "montreuil_manager",
        "claire.martin@montreuil.localhost",
        "Claire Martin (Montreuil)",
        "demo-password-1",
        municipalities={"montreuil": "manager"},
    ),
    Person(
        "montreuil_reviewer",
        "yusuf.kaya@montreuil.localhost",
        "Yusuf Kaya (Montreuil)",
        "demo-password-2",
        municipalities={"montreuil": "reviewer"},
    ),
    Person("amina", "amina@example.localhost", "Amina Diallo", "demo-password-3"),
    Person("lucas", "lucas@example.localhost", "Lucas Bernard", "demo-password-4", "en"),
    Person("sofia", "sofia@example.localhost", "Sofia Rossi", "demo-password-5"),
]


async def run(demo: Demo) -> None:
    for person in PEOPLE:
        # 409: the account exists from an earlier seed run; logging in below is enough.
        await demo.call(
            "POST",
            "/api/v1/auth/register",
            expect=(201, 409),
            json={
                "email": person.email,
                "password": person.password,
                "display_name": person.display_name,
                "locale": person.locale,
                "postcode": person.postcode,
            },
        )
        await demo.login(person)
        demo.people[person.key] = person
