"""The platform's closed word lists as people read them, in one place for every page: the
services' codes (category, funding model, status, kinds of need and of support) -> words."""

from __future__ import annotations

from .site import Site


def category_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "public_space": _("Public space"),
        "sport": _("Sport"),
        "culture": _("Culture"),
        "solidarity": _("Solidarity"),
        "environment": _("Environment"),
        "education": _("Education"),
        "mobility": _("Mobility"),
        "health": _("Health"),
        "other": _("Other"),
    }


def funding_model_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {"keep_it_all": _("Keep it all"), "all_or_nothing": _("All or nothing")}


def campaign_status_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "draft": _("Draft"),
        "submitted": _("Waiting for review"),
        "live": _("Raising money"),
        "succeeded": _("Funded"),
        "failed": _("Not funded"),
        "canceled": _("Canceled"),
        "completed": _("Completed"),
        "rejected": _("Rejected"),
    }


def need_kind_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "volunteers": _("Volunteers"),
        "hosting": _("Hosting"),
        "goods": _("Goods"),
        "space": _("Space"),
        "skills": _("Skills"),
        "other": _("Other help"),
    }


def support_kind_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "land": _("A plot of land"),
        "venue": _("A venue"),
        "equipment": _("Equipment"),
        "permits": _("Permits"),
        "communication": _("Communication"),
        "technical_help": _("Technical help"),
    }
