"""The local stack, defined once: which processes, on which ports, with which settings.

Used by `make up` (run under supervisord, see supervise.py) and by the end-to-end tests
(started as subprocesses on free ports against a private RabbitMQ vhost).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ["gateway", "campaigns", "payments", "endorsements", "notifications", "web"]
# The development value of the secret the site and the gateway share (production sets its own).
SITE_PROXY_SECRET = "development-site-proxy-secret"


@dataclass
class Ports:
    gateway: int = 8000
    campaigns: int = 8001
    payments: int = 8002
    endorsements: int = 8003
    notifications: int = 8004
    web: int = 8005
    # One nx-27017 per service: gateway 27100, campaigns 27101, ...
    mongo_ports: dict[str, int] = field(
        default_factory=lambda: {s: 27100 + i for i, s in enumerate(SERVICES)}
    )
    localstripe: int = 8420
    smtp: int = 1025

    def http(self, service: str) -> int:
        return int(getattr(self, service))

    def mongo(self, service: str) -> int:
        return self.mongo_ports[service]


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    port: int | None = None
    ready_url: str | None = None
    # Processes of one service sharing its port (SO_REUSEPORT) and its datastore (file lock).
    replicas: int = 1

    @property
    def is_service(self) -> bool:
        return self.ready_url is not None


@dataclass
class Stack:
    root: Path
    var: Path
    ports: Ports = field(default_factory=Ports)
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    bus_namespace: str = ""
    mongo_data: str | None = None  # None: files under var/mongo/<service>; "memory" for tests
    environment: str = "development"
    extra_env: dict[str, str] = field(default_factory=dict)
    # Development only: run the API services from another checkout (its root; its .venv's python),
    # so work on the site can be tried against a known-good platform while the services change.
    backend_root: Path | None = None
    # How many processes run each service (default one); see Process.replicas.
    replicas: dict[str, int] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports.http(service)}"

    def mongo_url(self, service: str) -> str:
        return f"mongodb://127.0.0.1:{self.ports.mongo(service)}/?directConnection=true"

    def service_env(self, service: str) -> dict[str, str]:
        env = {
            "SERVICE_NAME": service,
            "ENVIRONMENT": self.environment,
            "HTTP_PORT": str(self.ports.http(service)),
            "MONGO_URL": self.mongo_url(service),
            "AMQP_URL": self.amqp_url,
            "BUS_NAMESPACE": self.bus_namespace,
            "JWKS_URL": f"{self.url('gateway')}/.well-known/jwks.json",
            "CONTRACTS_DIR": str(self._root_of(service) / "contracts"),
            "STRIPE_API_BASE": f"http://127.0.0.1:{self.ports.localstripe}",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.ports.smtp),
            "PUBLIC_BASE_URL": self.url("gateway"),
            "PYTHONUNBUFFERED": "1",
            # Transactions on an nx-27017 database are serialised across the processes of this
            # stack through one lock file per datastore (servicekit/txlock.py).
            "MONGO_LOCK_DIR": str(self.var / "run" / "locks"),
        }
        if self.replicas.get(service, 1) > 1:
            env["HTTP_REUSE_PORT"] = "true"
        if service == "gateway":
            env["JWT_KEYS_DIR"] = str(self.var / "keys")
            for upstream in SERVICES[1:]:
                env[f"UPSTREAM_{upstream.upper()}"] = self.url(upstream)
            # The demo admin (seed) is an admin by this bootstrap list.
            env["ADMIN_EMAILS"] = "admin@civicfund.localhost"
            env["CORS_ORIGINS"] = f'["{self.url("gateway")}", "http://localhost:{self.ports.gateway}"]'
            env["SITE_PROXY_SECRET"] = SITE_PROXY_SECRET
            if self.environment == "test":
                # Every end-to-end test (and schemathesis) comes from 127.0.0.1 and registers and
                # logs in a lot; the strict buckets are tested in-process with their real values.
                env["RATE_LIMIT_SENSITIVE"] = "10000/minute"
                env["RATE_LIMIT_IP"] = "100000/minute"
                env["RATE_LIMIT_USER"] = "100000/minute"
                env["RATE_LIMIT_PLEDGE"] = "100000/minute"
                # schemathesis logs in with the documented example (a demo account) and mutated
                # passwords: with the real failed-login limits it locked the accounts the seed
                # tests log in with next.
                env["LOGIN_FAILURES_PER_ACCOUNT"] = "100000/15minutes"
                env["LOGIN_FAILURES_PER_IP"] = "100000/15minutes"
        if service == "web":
            env["GATEWAY_URL"] = self.url("gateway")
            env["SITE_PROXY_SECRET"] = SITE_PROXY_SECRET
            # localstripe serves its own Stripe.js replacement; the site loads it from there.
            env["STRIPE_JS_URL"] = f"http://127.0.0.1:{self.ports.localstripe}/js.stripe.com/v3/"
            env["STRIPE_PUBLISHABLE_KEY"] = "pk_test_civicfund"
        env.update(self.extra_env)
        return env

    def _root_of(self, service: str) -> Path:
        return self.backend_root if self.backend_root is not None and service != "web" else self.root

    def _python_of(self, service: str) -> str:
        if self.backend_root is not None and service != "web":
            return str(self.backend_root / ".venv" / "bin" / "python")
        return sys.executable

    def processes(self) -> list[Process]:
        procs: list[Process] = []
        for service in SERVICES:
            data = self.mongo_data or str(self.var / "mongo" / service)
            if data != "memory":
                Path(data).mkdir(parents=True, exist_ok=True)
            port = self.ports.mongo(service)
            procs.append(
                Process(
                    f"mongo-{service}",
                    [sys.executable, "-m", "servicekit.testing.nx", "--data-dir", data, "-p", str(port),
                     "--log-file", str(self.var / "log" / f"nx-{service}.log"),
                     "--pid-file", str(self.var / "run" / f"nx-{service}.pid")],
                    port=port,
                )
            )  # fmt: skip
        if self.mongo_data == "memory":
            # localstripe with Connect (devstack.localstripe_connect), from scratch like the binary
            stripe = [sys.executable, "-m", "devstack.localstripe_connect", "--port", str(self.ports.localstripe),
                      "--from-scratch"]  # fmt: skip
        else:  # its state lives as long as the services' data (payments keeps Stripe ids)
            stripe = [sys.executable, "-m", "devstack.localstripe_state", "--port", str(self.ports.localstripe),
                      "--state", str(self.var / "localstripe" / "state.pickle")]  # fmt: skip
        procs.append(Process("localstripe", stripe, port=self.ports.localstripe))
        procs.append(
            Process(
                "smtp-sink",
                [
                    sys.executable,
                    "-m",
                    "devstack.smtp_sink",
                    "--port",
                    str(self.ports.smtp),
                    "--dir",
                    str(self.var / "mail"),
                ],
                port=self.ports.smtp,
            )
        )
        for service in SERVICES:
            procs.append(
                Process(
                    service,
                    [self._python_of(service), "-m", service],
                    env=self.service_env(service),
                    port=self.ports.http(service),
                    ready_url=f"{self.url(service)}/readyz",
                    replicas=self.replicas.get(service, 1),
                )
            )
        return procs
