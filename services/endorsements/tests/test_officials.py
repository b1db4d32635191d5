"""A city's officials as its console manages them: appointment of an account named by its email
(none: 404, invite instead), a role change, removal; reviewers and outsiders are refused;
an invitation's token travels only in `official.invited`."""

from __future__ import annotations

import json

from servicekit.testing.helpers import eventually, tap


async def test_manager_appoints_by_email_changes_the_role_and_removes(svc) -> None:
    slug = await svc.city()
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.appoint(slug, "usr_yusuf", "reviewer")
    await svc.publish("user.registered", "usr_nadia", {"user_id": "usr_nadia", "email": "Nadia@Example.org",
                                                      "display_name": "Nadia", "locale": "fr"}, source="gateway")  # fmt: skip
    await svc.known("users", {"_id": "usr_nadia"})
    _, events = await tap(svc.ctx.bus, "official.*")
    claire = svc.who("usr_claire")
    url = f"/municipalities/{slug}/officials"

    r = await svc.http.post(url, json={"email": "nobody@example.org", "role": "reviewer"}, headers=claire)
    assert r.status_code == 404 and r.json()["error"]["code"] == "account_not_found"
    r = await svc.http.post(url, json={"email": "not-an-email", "role": "reviewer"}, headers=claire)
    assert r.status_code == 422
    r = await svc.http.post(url, json={"email": "nadia@example.org", "role": "mayor"}, headers=claire)
    assert r.status_code == 422
    r = await svc.http.post(url, json={"email": "nadia@example.org", "role": "reviewer"},
                            headers=svc.who("usr_yusuf"))  # fmt: skip
    assert r.status_code == 403  # reviewers do not appoint
    r = await svc.http.post(url, json={"email": "nadia@example.org", "role": "reviewer"},
                            headers=svc.who("usr_someone"))  # fmt: skip
    assert r.status_code == 403

    r = await svc.http.post(url, json={"email": "nadia@example.org", "role": "reviewer"}, headers=claire)
    assert r.status_code == 201, r.text
    assert r.json()["user_id"] == "usr_nadia" and r.json()["role"] == "reviewer"
    r = await svc.http.put(f"{url}/usr_nadia", json={"role": "manager"}, headers=claire)
    assert r.status_code == 200 and r.json()["role"] == "manager"
    listed = {o["user_id"]: o["role"] for o in (await svc.http.get(url, headers=claire)).json()["items"]}
    assert listed == {"usr_claire": "manager", "usr_yusuf": "reviewer", "usr_nadia": "manager"}
    assert (await svc.http.get(url, headers=svc.who("usr_someone"))).status_code == 403

    r = await svc.http.delete(f"{url}/usr_nadia", headers=svc.who("usr_yusuf"))
    assert r.status_code == 403
    r = await svc.http.delete(f"{url}/usr_nadia", headers=claire)
    assert r.status_code == 204
    assert (await svc.http.delete(f"{url}/usr_nadia", headers=claire)).status_code == 404
    listed = {o["user_id"] for o in (await svc.http.get(url, headers=claire)).json()["items"]}
    assert listed == {"usr_claire", "usr_yusuf"}

    r = await svc.http.post(f"/municipalities/{slug}/invitations", json={"email": "new@example.org",
                            "role": "reviewer"}, headers=claire)  # fmt: skip
    assert r.status_code == 201 and "token" not in r.json()

    def of(key: str) -> list[dict]:
        return [json.loads(m.body)["data"] for m in events if m.routing_key == key]

    await eventually(
        lambda: len(of("official.appointed")) == 2 and of("official.removed") and of("official.invited")
    )
    assert [d["role"] for d in of("official.appointed")] == ["reviewer", "manager"]
    assert of("official.removed")[0]["user_id"] == "usr_nadia"
    assert len(of("official.invited")[0]["token"]) >= 20
