"""Municipality routes: registration, edits, trials, the public city page, city AMQP users."""

from __future__ import annotations

from fastapi import APIRouter

from ..access import CityEditor
from ..deps import AdminDep, MongoDep, SettingsDep
from ..fields import Slug
from . import usecases
from .models import (
    AmqpUserOut,
    CityPageOut,
    MunicipalitiesOut,
    MunicipalityIn,
    MunicipalityOut,
    MunicipalityPatch,
    TrialIn,
)

router = APIRouter(tags=["municipalities"])


@router.post("/municipalities", status_code=201)
async def register_municipality(body: MunicipalityIn, _admin: AdminDep, mongo: MongoDep) -> MunicipalityOut:
    return await usecases.register(mongo, body)


@router.get("/municipalities")
async def list_municipalities(mongo: MongoDep) -> MunicipalitiesOut:
    return await usecases.list_all(mongo)


@router.get("/municipalities/{slug}")
async def get_municipality(slug: Slug, mongo: MongoDep) -> MunicipalityOut:
    """`subscription_active` says whether the city may label, commit and award now."""
    return await usecases.get(mongo, slug)


@router.patch("/municipalities/{slug}")
async def edit_municipality(body: MunicipalityPatch, editor: CityEditor, mongo: MongoDep) -> MunicipalityOut:
    return await usecases.edit(mongo, editor.slug, body)


@router.post("/municipalities/{slug}/trial")
async def grant_trial(slug: Slug, body: TrialIn, _admin: AdminDep, mongo: MongoDep) -> MunicipalityOut:
    return await usecases.grant_trial(mongo, slug, body.days)


@router.post(
    "/municipalities/{slug}/amqp-user",
    status_code=201,
    responses={503: {"description": "RabbitMQ's management API does not answer (broker_admin_unavailable)"}},
)
async def create_amqp_user(editor: CityEditor, mongo: MongoDep, settings: SettingsDep) -> AmqpUserOut:
    """The city's managers (and admins) get the credentials of its feed; they are shown once,
    and calling again resets the password."""
    return await usecases.create_amqp_user(mongo, settings, editor.slug)


@router.get("/municipalities/{slug}/page", tags=["city page"])
async def city_page(slug: Slug, mongo: MongoDep) -> CityPageOut:
    return await usecases.city_page(mongo, slug)
