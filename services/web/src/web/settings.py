from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "web"
    http_port: int = 8005
    mongo_url: str = "mongodb://127.0.0.1:27105/?directConnection=true"

    # The gateway's address as the site reaches it (server side; in Kubernetes its Service name).
    gateway_url: str = "http://127.0.0.1:8000"
    # The address people use (links, redirects after Stripe); the gateway fronts the site.
    public_base_url: str = "http://127.0.0.1:8000"
    gateway_timeout_s: float = 10.0
    # Shared with the gateway (SITE_PROXY_SECRET): lets the site pass on the visitor's address, so
    # the gateway's per-IP limits (login failures...) count visitors, not the site. Empty: off.
    site_proxy_secret: str = ""

    # Sessions: the cookie holds only a random id; the tokens stay server side (its own database).
    session_cookie: str = "cf_session"
    csrf_cookie: str = "cf_csrf"
    locale_cookie: str = "cf_lang"
    session_ttl_s: int = 30 * 24 * 3600
    # Refresh the access token this long before it expires instead of waiting for a 401.
    token_refresh_margin_s: int = 30

    # Stripe.js: real Stripe in production; localstripe serves its replacement at /js.stripe.com/v3/.
    stripe_js_url: str = "https://js.stripe.com/v3/"
    stripe_publishable_key: str = "pk_test_civicfund"

    locales: list[str] = ["fr", "en"]
    default_locale: str = "fr"
    # Dates and times are shown in this zone (the platform's cities are French today).
    display_timezone: str = "Europe/Paris"
    # Static assets carry a version in their URL, so they can be cached for a year.
    static_max_age_s: int = 365 * 24 * 3600

    @property
    def secure_cookies(self) -> bool:
        return self.environment == "production"
