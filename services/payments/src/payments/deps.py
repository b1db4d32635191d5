"""The typed dependencies routes declare (servicekit components provided in app.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from servicekit.app import component

from .disputes import Disputes
from .ledger import LedgerBook
from .payouts import Payouts
from .pledges import PledgeBook
from .refunds import Refunds
from .subscriptions import CitySubscriptions
from .webhooks import StripeWebhooks

Pledges = Annotated[PledgeBook, Depends(component(PledgeBook))]
Ledger = Annotated[LedgerBook, Depends(component(LedgerBook))]
Subscriptions = Annotated[CitySubscriptions, Depends(component(CitySubscriptions))]
Webhooks = Annotated[StripeWebhooks, Depends(component(StripeWebhooks))]
PayoutsDep = Annotated[Payouts, Depends(component(Payouts))]
RefundsDep = Annotated[Refunds, Depends(component(Refunds))]
DisputesDep = Annotated[Disputes, Depends(component(Disputes))]
