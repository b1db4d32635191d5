"""The Kubernetes base is generated and current, and every service gets what ops rely on."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from devstack.stack import SERVICES

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("k8s_generate", ROOT / "deploy/k8s/generate.py")
assert spec is not None and spec.loader is not None
generate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generate)


def test_generated_files_are_current() -> None:
    for name, text in generate.write().items():
        assert (ROOT / "deploy/k8s/base" / name).read_text() == text, f"run deploy/k8s/generate.py ({name})"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_probes_budget_and_scaling(service: str) -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/base" / f"{service}.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert {"Deployment", "Service", "PodDisruptionBudget"} <= set(kinds)
    assert "HorizontalPodAutoscaler" in kinds or "ScaledObject" in kinds
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["securityContext"]["runAsNonRoot"] is True


def test_consumer_scaling_names_real_queues() -> None:
    """KEDA must watch the queues the services really declare (Handlers(\"<queue>\"))."""
    declared = set()
    for service in SERVICES:
        for path in (ROOT / "services" / service / "src" / service).rglob("*.py"):
            for line in path.read_text().splitlines():
                if 'Handlers("' in line:
                    declared.add(line.split('Handlers("', 1)[1].split('"', 1)[0])
    watched = {q for queues in generate.QUEUES.values() for q in queues}
    assert watched == declared, (
        f"watched but not declared: {watched - declared}; declared but not watched: {declared - watched}"
    )
