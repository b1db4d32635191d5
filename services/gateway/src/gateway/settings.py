from pydantic import Field
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "gateway"
    http_port: int = 8000
    mongo_url: str = "mongodb://127.0.0.1:27100/?directConnection=true"
    # The gateway serves the JWKS itself; services fetch it from here.
    jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"

    # Ed25519 signing keys: every *.pem in this directory is published in the JWKS; the one
    # named by JWT_ACTIVE_KEY (file stem) signs new tokens (rotation: add the new key, publish
    # it, then switch the active key; remove the old one after the longest token TTL).
    jwt_keys_dir: str = "var/keys"
    jwt_active_key: str = "current"
    access_token_ttl_s: int = 900

    # Upstreams: one base URL per service (a Kubernetes Service name in production).
    upstream_campaigns: str = "http://127.0.0.1:8001"
    upstream_payments: str = "http://127.0.0.1:8002"
    upstream_endorsements: str = "http://127.0.0.1:8003"
    upstream_notifications: str = "http://127.0.0.1:8004"
    upstream_connect_timeout_s: float = 2.0
    upstream_timeout_s: float = 10.0
    upstream_max_connections: int = 512

    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8000", "http://127.0.0.1:8000"]
    )

    def upstreams(self) -> dict[str, str]:
        return {
            "campaigns": self.upstream_campaigns,
            "payments": self.upstream_payments,
            "endorsements": self.upstream_endorsements,
            "notifications": self.upstream_notifications,
        }
