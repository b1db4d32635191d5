"""Settings every service shares; each service subclasses `ServiceSettings` for its own.

Every URL, port and secret comes from the environment (no prefix: `MONGO_URL`, `AMQP_URL`...),
with defaults that work on a developer machine running the local stack.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    service_name: str = "service"
    environment: str = "development"  # development | test | production
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Replicas on one machine share the port (SO_REUSEPORT; the local stack sets it for them).
    http_reuse_port: bool = False

    mongo_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_db: str = ""  # defaults to the service name
    # nx-27017 runs concurrent transactions of one database on one SQLite connection, so they
    # corrupt each other; "auto" serialises transactions when the server is not a replica set.
    mongo_serialize_transactions: str = "auto"  # auto | true | false
    # Where serialised transactions take their cross-process file lock (one file per datastore),
    # so replicas of a service on one machine share one nx-27017; empty: a per-machine temp dir.
    mongo_lock_dir: str = ""

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Prefix for every exchange and queue name: empty in production, unique per test run so
    # parallel runs on one broker never see each other's messages.
    bus_namespace: str = ""
    events_exchange: str = "civicfund.events"
    public_exchange: str = "civicfund.public"
    consumer_prefetch: int = 200
    # Messages already delivered are handled together in one transaction (one commit) by each
    # of `consumer_concurrency` workers; a failing batch is re-run one message at a time.
    consumer_batch_size: int = 50
    consumer_concurrency: int = 4
    consumer_max_attempts: int = 5
    # Backoff tiers for failed handlers, in milliseconds; attempt N waits tier min(N, len)-1.
    consumer_retry_delays_ms: list[int] = [1000, 5000, 30000, 120000]
    outbox_poll_interval_s: float = 1.0
    outbox_batch_size: int = 500

    jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    jwt_issuer: str = "civicfund-gateway"
    jwt_audience: str = "civicfund"

    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON when stdout is not a terminal
    validate_events: bool = True  # check emitted and received events against contracts/
    contracts_dir: str = ""  # defaults to the repository's contracts/

    @property
    def database_name(self) -> str:
        return self.mongo_db or self.service_name

    def ns(self, name: str) -> str:
        """A broker object name inside this deployment's namespace."""
        return f"{self.bus_namespace}{name}"
