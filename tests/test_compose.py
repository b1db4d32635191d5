"""docker-compose.yml cannot run here (no Docker engine): check its structure instead, and
that it stays in sync with the local stack's definition."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from devstack.stack import SERVICES, Stack

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
# Set by every image's Dockerfile, or meaningful only for local processes.
# MONGO_LOCK_DIR: the cross-process transaction lock of nx-27017; compose runs MongoDB replica sets.
IMAGE_PROVIDED = {"CONTRACTS_DIR", "PYTHONUNBUFFERED", "MONGO_LOCK_DIR"}


def _service(name: str) -> dict:
    return COMPOSE["services"][name]


def _healthy_deps(service: dict) -> set[str]:
    return {
        dep
        for dep, cond in service.get("depends_on", {}).items()
        if cond.get("condition") == "service_healthy"
    }


def test_infrastructure_is_present() -> None:
    assert {"rabbitmq", "localstripe", "mailpit", "prometheus"} <= set(COMPOSE["services"])
    assert "management" in _service("rabbitmq")["image"]
    assert "healthcheck" in _service("rabbitmq")


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_has_its_own_replica_set_database(name: str) -> None:
    mongo = _service(f"mongo-{name}")
    assert "--replSet" in mongo["command"], "transactions need a replica set"
    assert "rs.initiate" in " ".join(mongo["healthcheck"]["test"])
    service = _service(name)
    url = service["environment"]["MONGO_URL"]
    assert url.startswith(f"mongodb://mongo-{name}:27017/") and "replicaSet=" in url
    others = [s for s in SERVICES if s != name]
    assert not any(f"mongo-{o}" in str(service) for o in others), "no service touches another's database"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_builds_its_image_waits_for_its_dependencies_and_has_a_healthcheck(name: str) -> None:
    service = _service(name)
    assert service["build"]["dockerfile"] == f"services/{name}/Dockerfile"
    assert (ROOT / service["build"]["dockerfile"]).is_file()
    assert "/readyz" in " ".join(service["healthcheck"]["test"])
    assert f"mongo-{name}" in _healthy_deps(service)
    if name != "web":  # the site uses no events: it needs its sessions' database and the gateway
        assert "rabbitmq" in _healthy_deps(service)
        assert (
            service["environment"]["AMQP_URL"].startswith("amqp://")
            and "rabbitmq" in service["environment"]["AMQP_URL"]
        )
    else:
        assert "gateway" in _healthy_deps(service)
    assert service["environment"]["JWKS_URL"] == "http://gateway:8000/.well-known/jwks.json"


@pytest.mark.parametrize("name", SERVICES)
def test_compose_passes_every_setting_the_local_stack_passes(name: str) -> None:
    local = set(Stack(root=ROOT, var=ROOT / "var").service_env(name)) - IMAGE_PROVIDED
    compose = set(_service(name)["environment"])
    assert local - compose == set(), (
        f"settings the local stack passes but compose does not: {local - compose}"
    )


def test_gateway_routes_to_every_service_and_is_the_only_public_api() -> None:
    gateway = _service("gateway")
    for name in SERVICES[1:]:
        assert gateway["environment"][f"UPSTREAM_{name.upper()}"] == f"http://{name}:8000"
        assert "ports" not in _service(name), f"{name} is reached through the gateway only"
    assert "8000:8000" in gateway["ports"]


def test_payments_and_notifications_wait_for_their_fakes() -> None:
    assert "localstripe" in _healthy_deps(_service("payments"))
    assert "mailpit" in _healthy_deps(_service("notifications"))


def test_prometheus_scrapes_every_service() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{s}:8000" for s in SERVICES}
    assert yaml.safe_load((ROOT / "deploy/prometheus/rules.yml").read_text())["groups"]


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_is_multi_stage_non_root_and_frozen(name: str) -> None:
    text = (ROOT / "services" / name / "Dockerfile").read_text()
    assert text.count("FROM ") >= 2
    assert f"uv sync --frozen --no-dev --package {name}" in text
    assert "USER 10001" in text
    assert f'CMD ["python", "-m", "{name}"]' in text
