"""Generate the Kubernetes base (kustomize) for every service: one file each with a
Deployment (probes on /livez and /readyz, non-root, resources), Service, HorizontalPodAutoscaler
(CPU), PodDisruptionBudget and, for services that consume events, a KEDA ScaledObject that
scales on the length of their RabbitMQ queues.

    .venv/bin/python deploy/k8s/generate.py      (tests/test_deploy.py checks the files are current)
"""

from __future__ import annotations

from pathlib import Path

import yaml

BASE = Path(__file__).parent / "base"
SERVICES = ["gateway", "campaigns", "payments", "endorsements", "notifications", "web"]
# Queues each service consumes (KEDA scales consumers on their backlog).
QUEUES = {
    "gateway": ["gateway.officials"],
    "campaigns": ["campaigns.funding", "campaigns.tallies"],
    "payments": [
        "payments.campaigns",
        "payments.municipalities",
        "payments.matches",
        "payments.accounts",
        "payments.city_dues",
        "payments.tranches",
        "payments.pools",
    ],
    "endorsements": ["endorsements.events", "endorsements.pool_gifts"],
    "notifications": ["notifications.events", "notifications.webhooks"],
    "web": [],  # the web site consumes no events
}
# Scaled on CPU alone (HTTP only): the gateway and the web site.
HTTP_ONLY = {"gateway", "web"}


def manifests(service: str) -> list[dict]:
    labels = {"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": "civicfund"}
    env = [
        {"name": "SERVICE_NAME", "value": service},
        {"name": "HTTP_PORT", "value": "8000"},
        {"name": "MONGO_URL", "valueFrom": {"secretKeyRef": {"name": f"{service}-mongo", "key": "url"}}},
        {"name": "AMQP_URL", "valueFrom": {"secretKeyRef": {"name": "rabbitmq", "key": "url"}}},
    ]
    if service == "gateway":
        env.append({"name": "JWT_KEYS_DIR", "value": "/keys"})
    if service in ("gateway", "web"):
        # The site passes visitors' addresses to the gateway's per-IP limits with this shared secret.
        env.append(
            {
                "name": "SITE_PROXY_SECRET",
                "valueFrom": {"secretKeyRef": {"name": "site-proxy", "key": "secret"}},
            }
        )
    if service == "web":
        env.append({"name": "GATEWAY_URL", "value": "http://gateway:8000"})
    # Keys that must outlive a deploy: a new one makes every uploaded census and posted code
    # (endorsements) or every unsubscribe link sent (notifications) unusable.
    for owner, name in (("endorsements", "RESIDENCY_PEPPER"), ("notifications", "UNSUBSCRIBE_SECRET")):
        if service == owner:
            key = name.lower().replace("_", "-")
            env.append(
                {"name": name, "valueFrom": {"secretKeyRef": {"name": f"{service}-{key}", "key": "value"}}}
            )
    container = {
        "name": service,
        "image": f"civicfund/{service}:latest",
        "ports": [{"name": "http", "containerPort": 8000}],
        "envFrom": [{"configMapRef": {"name": "civicfund-common"}}],
        "env": env,
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/livez", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
        "startupProbe": {
            "httpGet": {"path": "/livez", "port": "http"},
            "periodSeconds": 2,
            "failureThreshold": 30,
        },
        "resources": {"requests": {"cpu": "100m", "memory": "192Mi"}, "limits": {"memory": "512Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
        },
    }
    pod: dict = {"containers": [container], "terminationGracePeriodSeconds": 20}
    if service == "gateway":
        container["volumeMounts"] = [{"name": "jwt-keys", "mountPath": "/keys", "readOnly": True}]
        pod["volumes"] = [{"name": "jwt-keys", "secret": {"secretName": "gateway-jwt-keys"}}]
    docs: list[dict] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": service, "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": "8000",
                            "prometheus.io/path": "/metrics",
                        },
                    },
                    "spec": pod,
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 8000, "targetPort": "http"}]},
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": service},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}},
        },
    ]
    scaling_target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
    if service in HTTP_ONLY:
        docs.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": service},
                "spec": {
                    "scaleTargetRef": scaling_target,
                    "minReplicas": 2,
                    "maxReplicas": 10,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": 70},
                            },
                        }
                    ],
                },
            }
        )
    else:
        # KEDA owns the HPA of consumer services: CPU for HTTP load, queue length for events.
        triggers = [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}]
        for queue in QUEUES[service]:
            triggers.append(
                {
                    "type": "rabbitmq",
                    "metadata": {
                        "queueName": queue,
                        "mode": "QueueLength",
                        "value": "500",
                        "protocol": "amqp",
                    },
                    "authenticationRef": {"name": "rabbitmq"},
                }
            )
        docs.append(
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "metadata": {"name": service},
                "spec": {
                    "scaleTargetRef": {"name": service},
                    "minReplicaCount": 2,
                    "maxReplicaCount": 10,
                    "triggers": triggers,
                },
            }
        )
    return docs


def common() -> list[dict]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "civicfund-common"},
            "data": {
                "ENVIRONMENT": "production",
                "HTTP_HOST": "0.0.0.0",
                "JWKS_URL": "http://gateway:8000/.well-known/jwks.json",
                "UPSTREAM_CAMPAIGNS": "http://campaigns:8000",
                "UPSTREAM_PAYMENTS": "http://payments:8000",
                "UPSTREAM_ENDORSEMENTS": "http://endorsements:8000",
                "UPSTREAM_NOTIFICATIONS": "http://notifications:8000",
                "UPSTREAM_WEB": "http://web:8000",
                "LOG_JSON": "true",
            },
        },
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": {"name": "rabbitmq"},
            "spec": {"secretTargetRef": [{"parameter": "host", "name": "rabbitmq", "key": "url"}]},
        },
    ]


def write() -> dict[str, str]:
    files = {f"{s}.yaml": yaml.safe_dump_all(manifests(s), sort_keys=False, width=200) for s in SERVICES}
    files["common.yaml"] = yaml.safe_dump_all(common(), sort_keys=False, width=200)
    files["kustomization.yaml"] = yaml.safe_dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": sorted(files),
        },
        sort_keys=False,
    )
    return {
        name: "# Generated by deploy/k8s/generate.py; edit that, not this.\n" + text
        for name, text in files.items()
    }


if __name__ == "__main__":
    BASE.mkdir(parents=True, exist_ok=True)
    for name, text in write().items():
        (BASE / name).write_text(text)
    print(f"wrote {len(SERVICES) + 2} files to {BASE}")
