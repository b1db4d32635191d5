"""Business counters for payments (HTTP and event metrics come from servicekit)."""

from prometheus_client import Counter

PLEDGES = Counter("payments_pledges_created_total", "Pledges created", ["funding_model"])
PAYMENTS = Counter("payments_pledge_outcomes_total", "Pledge status changes driven by Stripe", ["status"])
CHARGES = Counter("payments_offsession_charges_total", "Off-session charges attempted", ["result"])
REFUNDS = Counter("payments_refunds_total", "Refunds issued by payments", ["result"])
WEBHOOKS = Counter("payments_stripe_webhooks_total", "Stripe webhooks received", ["type", "result"])
AMOUNT_PAID = Counter(
    "payments_amount_paid_minor_total", "Money taken from backers (amount + tip), minor units", ["currency"]
)
