"""Stripe's deliveries (through the gateway's /webhooks/stripe, body untouched)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from .deps import Webhooks

router = APIRouter(tags=["stripe webhooks"])


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool


@router.post("/webhooks/stripe", include_in_schema=False, response_model=WebhookAck)
async def stripe_webhook(request: Request, webhooks: Webhooks) -> WebhookAck:
    # The signature covers the raw bytes, so the body is read as such, never parsed first.
    stored = await webhooks.receive(await request.body(), request.headers.get("stripe-signature"))
    return WebhookAck(received=True, duplicate=not stored)
