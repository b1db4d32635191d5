from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = 8004
    mongo_url: str = "mongodb://127.0.0.1:27104/?directConnection=true"

    # Links in emails (unsubscribe, pledge retry, campaign pages) point here: the gateway's
    # public address. The local stack passes PUBLIC_BASE_URL.
    public_base_url: str = "http://127.0.0.1:8000"
    # Signs unsubscribe tokens. Must be set (and kept) in production; rotating it breaks the
    # unsubscribe links of emails already sent.
    unsubscribe_secret: str = "development-only-unsubscribe-secret"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0
    mail_from: str = "Civicfund <no-reply@civicfund.localhost>"

    # Fan-out: recipients are expanded page by page into delivery rows; expansion pauses while
    # more than `fanout_max_pending` emails wait to be sent (back-pressure on the SMTP side).
    fanout_page_size: int = 200
    fanout_max_pending: int = 5000
    worker_poll_s: float = 1.0
    email_concurrency: int = 4
    # Waits between email attempts (SMTP down, recipient's contact details not known yet).
    email_retry_delays_s: list[float] = [10, 60, 300, 1800, 7200, 21600]
    claim_lease_s: float = 120.0

    # Webhooks: waits between delivery attempts. The default spans more than 24 h
    # (1 min ... 24 h, 44.6 h in total); when a delivery exhausts it, the endpoint is disabled.
    webhook_retry_schedule_s: list[float] = [60, 300, 1800, 7200, 21600, 43200, 86400]
    webhook_timeout_s: float = 10.0
    webhook_concurrency: int = 8
    webhook_secret_grace_s: int = 24 * 3600
    webhook_tolerance_s: int = 300  # documented for receivers: reject older timestamps
