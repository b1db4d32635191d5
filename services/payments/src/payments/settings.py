from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "payments"
    http_port: int = 8002
    mongo_url: str = "mongodb://127.0.0.1:27102/?directConnection=true"

    # Empty: the SDK's own default (api.stripe.com). The local stack points it at localstripe.
    stripe_api_base: str = ""
    stripe_secret_key: str = "sk_test_civicfund_local"
    stripe_webhook_secret: str = "whsec_civicfund_local"
    stripe_webhook_tolerance_s: int = 300
    stripe_max_network_retries: int = 2
    # localstripe only (never with real Stripe, where endpoints are configured in the
    # dashboard): register this service's /webhooks/stripe with localstripe at start-up.
    stripe_local_webhook: bool = True
    stripe_local_webhook_url: str = ""  # default: this service's own address

    pledge_min_amount: int = 100
    pledge_max_amount: int = 10_000_000
    # Above this amount (minor units) a pledge needs a verified email address (the token's claim).
    unverified_pledge_max_amount: int = 10_000
    tip_max_amount: int = 1_000_000
    # How long a backer whose off-session charge failed may retry with another card.
    charge_grace_period_s: int = 7 * 24 * 3600
    charge_concurrency: int = 4
    # Background worker: charges, refunds, webhook processing, sweeping stale intents.
    worker_tick_s: float = 2.0
    # Intents still pending this long after their last check are re-fetched from Stripe.
    sweep_after_s: float = 300.0
    # ...but only for pledges younger than this (abandoned checkouts are not polled forever).
    sweep_window_s: float = 14 * 24 * 3600
    # A charge or refund claimed by a worker that died is retried after this long.
    stuck_claim_after_s: float = 600.0

    # Payouts (Stripe Connect): holders' Express accounts, and the site's pages Stripe's hosted
    # onboarding sends them back to (return) or to ask for a fresh link (refresh), under the
    # gateway's public address (the local stack passes PUBLIC_BASE_URL).
    connect_country: str = "FR"
    public_base_url: str = "http://127.0.0.1:8000"
    connect_return_path: str = "/payouts/onboarding/return"
    connect_refresh_path: str = "/payouts/onboarding/refresh"
    # A campaign whose charges have not settled is looked at again after this long.
    payout_recheck_s: float = 30.0
    # A transfer asked of Stripe and not settled by its webhook is re-checked after this long.
    payout_sweep_after_s: float = 60.0
    # Milestone releases (tranches.py): backers of an unlabelled project may object this long
    # after the holder's proof; with no objection the tranche is released.
    milestone_objection_window_s: float = 7 * 24 * 3600

    city_plan_currency: str = "EUR"
    city_plan_monthly_amount: int = 4_900
    city_plan_yearly_amount: int = 49_000
