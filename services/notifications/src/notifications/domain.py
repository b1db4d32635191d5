"""What each notification is, who may turn it off, and how projections stay right under
redelivery and reordering. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Channel = Literal["email", "inapp"]
CHANNELS: tuple[Channel, ...] = ("email", "inapp")
LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"


@dataclass(frozen=True)
class Category:
    name: str
    locked: bool = False  # sent whatever the preferences say (receipts, account security)
    default_on: bool = True  # opt-in categories start off


CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in [
        Category("receipts", locked=True),  # money the user paid or got back
        Category("account", locked=True),  # address verification, password reset
        Category("pledges"),  # pledge saved, charge failed, pledge released
        Category("my_campaigns"),  # what happens to a campaign, proposal or offer of help the user made
        Category("campaign_news"),  # campaigns the user follows or backed
        Category("city"),  # for municipality officials
        Category("calls", default_on=False),  # new calls for projects in the user's city
    ]
}


@dataclass(frozen=True)
class Kind:
    """One notification type: its category and the channels it uses."""

    name: str
    category: str
    channels: tuple[Channel, ...] = ("email", "inapp")


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind("payment.succeeded", "receipts"),
        Kind("payment.refunded", "receipts"),
        Kind("pledge.authorized", "pledges"),
        Kind("payment.failed", "pledges"),
        Kind("pledge.released", "pledges"),
        # News to its followers (the fan-out reads them when it runs, so someone who follows right
        # after publication hears of it too); its owner reads it under "my_campaigns" (category_for).
        Kind("campaign.published", "campaign_news"),
        Kind("campaign.goal_reached", "campaign_news"),
        Kind("campaign.succeeded", "campaign_news"),
        Kind("campaign.failed", "campaign_news"),
        Kind("campaign.canceled", "campaign_news"),
        Kind("campaign.update_posted", "campaign_news"),
        Kind("campaign.meetup_scheduled", "campaign_news"),
        Kind("campaign.offer_received", "my_campaigns"),
        # Moderation's answer to the owner (with its reason), and content hidden after an abuse
        # report, told to whoever wrote it.
        Kind("campaign.returned", "my_campaigns"),
        Kind("campaign.rejected", "my_campaigns"),
        Kind("campaign.content_hidden", "my_campaigns"),
        # The answer to the helper's own offer: theirs, not news of someone else's campaign.
        Kind("campaign.offer_decided", "my_campaigns"),
        Kind("label.requested", "city"),
        Kind("label.granted", "my_campaigns"),
        Kind("label.declined", "my_campaigns"),
        Kind("label.revoked", "my_campaigns"),
        Kind("match.committed", "my_campaigns"),
        Kind("call.opened", "calls"),
        Kind("call.proposal_selected", "my_campaigns"),
        Kind("subscription.lapsed", "city"),
        Kind("webhook.disabled", "city"),
        Kind("user.verification_requested", "account", ("email",)),
        Kind("user.password_reset_requested", "account", ("email",)),
        # An invitation goes to an address that may have no account yet: account-type, locked.
        Kind("official.invited", "account", ("email",)),
    ]
}

# Items and deliveries stored before labels had their own name keep their old kind: they are
# read (category, channels, template) as the label kind they are.
RENAMED_KINDS = {
    f"endorsement.{verb}": f"label.{verb}" for verb in ("requested", "granted", "declined", "revoked")
}


def kind_of(name: str) -> Kind:
    return KINDS[RENAMED_KINDS.get(name, name)]


# A campaign's owner hears about it under "my_campaigns" even for kinds that are news to others.
OWNER_CATEGORY = "my_campaigns"


def category_for(kind: str, role: str) -> str:
    category = kind_of(kind).category
    if role == "owner" and category == "campaign_news":
        return OWNER_CATEGORY
    return category


Preferences = dict[str, dict[str, bool]]  # category -> channel -> on

# An audience stage: who hears about a notification, expanded page by page by the fan-out.
# {"t": "user", "user_id", "role", [email, locale, display_name]} | {"t": "backers"|"followers",
# "campaign_id"} | {"t": "officials", "municipality", "roles"} | {"t": "residents", "municipality"}
Stage = dict[str, Any]


def to_user(user_id: str, role: str, **contact: Any) -> Stage:
    """One person; `contact` (email, locale, display_name) when the event itself carries it."""
    return {"t": "user", "user_id": user_id, "role": role, **contact}


def to_backers(campaign_id: str) -> Stage:
    return {"t": "backers", "campaign_id": campaign_id}


def to_followers(campaign_id: str) -> Stage:
    return {"t": "followers", "campaign_id": campaign_id}


def to_officials(municipality: str, roles: list[str]) -> Stage:
    return {"t": "officials", "municipality": municipality, "roles": roles}


def to_residents(municipality: str) -> Stage:
    """Everyone whose postcode is one of the city's."""
    return {"t": "residents", "municipality": municipality}


def wants(prefs: Preferences | None, category: str, channel: Channel) -> bool:
    """Whether a user gets `category` on `channel`, given their stored choices."""
    cat = CATEGORIES[category]
    if cat.locked:
        return True
    chosen = (prefs or {}).get(category, {}).get(channel)
    return cat.default_on if chosen is None else bool(chosen)


def effective_preferences(prefs: Preferences | None) -> dict[str, dict[str, Any]]:
    return {
        name: {"locked": cat.locked, **{ch: wants(prefs, name, ch) for ch in CHANNELS}}
        for name, cat in CATEGORIES.items()
    }


def merge_preferences(current: Preferences | None, changes: Preferences) -> Preferences:
    """Apply a partial change; refuses to switch off a locked category."""
    merged = {cat: dict(chs) for cat, chs in (current or {}).items()}
    for category, channels in changes.items():
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        if CATEGORIES[category].locked and not all(channels.values()):
            raise ValueError(f"{category!r} notifications cannot be switched off")
        for channel, on in channels.items():
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}")
            merged.setdefault(category, {})[channel] = bool(on)
    return merged


def unsubscribe_all(current: Preferences | None) -> Preferences:
    """Every email a user may refuse, refused (in-app stays as it was)."""
    merged = {cat: dict(chs) for cat, chs in (current or {}).items()}
    for name, cat in CATEGORIES.items():
        if not cat.locked:
            merged.setdefault(name, {})["email"] = False
    return merged


def city_display_name(slug: str) -> str:
    """A name for a city we have no municipality.registered for yet: "saint-denis" -> "Saint Denis"."""
    return slug.replace("-", " ").title()


def locale_of(value: Any) -> str:
    return value if value in LOCALES else DEFAULT_LOCALE


def is_newer(incoming: datetime, stored: datetime | None) -> bool:
    """Last-writer-wins on the producer's event time: an older event arriving late changes nothing."""
    return stored is None or incoming >= stored


def format_money(amount: int, currency: str, locale: str) -> str:
    """Minor units to a display string: 2500 EUR -> '25,00 €' (fr) / '€25.00' (en)."""
    symbol = {"EUR": "€", "GBP": "£", "USD": "$", "CHF": "CHF"}.get(currency, currency)
    whole, cents = divmod(abs(int(amount)), 100)
    sign = "-" if amount < 0 else ""
    if locale == "fr":
        grouped = f"{whole:,}".replace(",", "\u202f")
        return f"{sign}{grouped},{cents:02d}\u00a0{symbol}"
    return f"{sign}{symbol}{whole:,}.{cents:02d}"


def delivery_key(event_id: str, recipient: str, channel: str) -> str:
    """One event never yields two messages to one person on one channel."""
    return f"{event_id}|{recipient}|{channel}"


CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "receipts": {"fr": "Reçus de paiement", "en": "Payment receipts"},
    "account": {"fr": "Compte", "en": "Account"},
    "pledges": {"fr": "Mes promesses de don", "en": "My pledges"},
    "my_campaigns": {"fr": "Mes campagnes et projets", "en": "My campaigns and projects"},
    "campaign_news": {"fr": "Campagnes suivies ou soutenues", "en": "Campaigns I follow or back"},
    "city": {"fr": "Espace ville", "en": "City space"},
    "calls": {"fr": "Appels à projets de ma ville", "en": "Calls for projects in my city"},
}
