"""The typed dependencies routes declare (servicekit components registered in app.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from servicekit.app import component

from .store import CampaignStore

Store = Annotated[CampaignStore, Depends(component(CampaignStore))]
