from pydantic import Field

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "gateway"
    http_port: int = 8000
    mongo_url: str = "mongodb://127.0.0.1:27100/?directConnection=true"
    # The gateway serves the JWKS itself; services fetch it from here.
    jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    # Links in verification / reset emails point here (the web UI behind the gateway).
    public_base_url: str = "http://127.0.0.1:8000"

    # Ed25519 signing keys: every *.pem in this directory is published in the JWKS; the one
    # named by JWT_ACTIVE_KEY (file stem) signs new tokens (rotation: add the new key, publish
    # it, then switch the active key; remove the old one after the longest token TTL).
    jwt_keys_dir: str = "var/keys"
    jwt_active_key: str = "current"
    access_token_ttl_s: int = 900
    client_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    verification_token_ttl_s: int = 48 * 3600
    reset_token_ttl_s: int = 3600
    # HMAC secret for email verification / password reset links; empty: derived from the
    # active signing key (stable across restarts because the key file is).
    action_token_secret: str = ""
    # Old client secret stays valid this long after a rotation, so a city can redeploy.
    client_secret_grace_s: int = 24 * 3600

    # Comma-separated emails that get the `admin` role (bootstrap; e.g. the demo admin).
    admin_emails: str = ""

    # argon2id cost; production keeps the library defaults, tests may lower them.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

    # Login throttling (failed attempts), per account and per client IP.
    login_failures_per_account: str = "5/15minutes"
    login_failures_per_ip: str = "30/15minutes"

    # Rate limits (`limits` notation). Memory storage unless REDIS_URL is set (several replicas).
    redis_url: str = ""
    rate_limit_enabled: bool = True
    rate_limit_ip: str = "600/minute"
    rate_limit_user: str = "1200/minute"
    # Stricter for account creation, login, token and password-reset requests, and pledges.
    rate_limit_sensitive: str = "20/minute"
    rate_limit_pledge: str = "30/minute"

    # Edge protection.
    max_body_bytes: int = 1024 * 1024
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8000", "http://127.0.0.1:8000"]
    )

    # Upstreams: one base URL per service (a Kubernetes Service name in production).
    upstream_campaigns: str = "http://127.0.0.1:8001"
    upstream_payments: str = "http://127.0.0.1:8002"
    upstream_endorsements: str = "http://127.0.0.1:8003"
    upstream_notifications: str = "http://127.0.0.1:8004"
    # The web site: every path that is not the gateway's own or the API goes there.
    upstream_web: str = "http://127.0.0.1:8005"
    # Shared with the web site (its SITE_PROXY_SECRET): a request carrying it may name the visitor's
    # address in X-Client-IP, so per-IP limits count visitors, not the site. Empty: nobody may.
    site_proxy_secret: str = ""
    upstream_connect_timeout_s: float = 2.0
    upstream_timeout_s: float = 10.0
    upstream_max_connections: int = 512
    # Per-route read timeouts: "<service>/<path prefix>" -> seconds; the longest prefix wins.
    route_timeouts: dict[str, float] = Field(
        default_factory=lambda: {"payments/webhooks": 20.0, "notifications": 5.0}
    )
    # The campaign page gives up on a slow part after this long and shows it as unavailable.
    page_part_timeout_s: float = 2.0
    # Where the page finds a campaign's labels (endorsements) and the caller's own pledges
    # (payments; filtered to this campaign here). {id}: the campaign id.
    page_labels_path: str = "/campaigns/{id}/labels"
    page_pledges_path: str = "/me/pledges?limit=200"
    # The merged OpenAPI document is rebuilt at most this often.
    openapi_cache_s: float = 30.0

    def upstreams(self) -> dict[str, str]:
        return {
            "campaigns": self.upstream_campaigns,
            "payments": self.upstream_payments,
            "endorsements": self.upstream_endorsements,
            "notifications": self.upstream_notifications,
        }

    def admin_email_set(self) -> set[str]:
        return {e.strip().lower() for e in self.admin_emails.split(",") if e.strip()}
