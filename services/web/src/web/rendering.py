"""Jinja2 environments (one per locale, each with its catalog and formatting filters) and the
static assets, served under a content hash so browsers may cache them for a year."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nh3
from jinja2 import ChainableUndefined, Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from .i18n import Formats, load_translations

HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "blockquote", "code", "pre", "h2", "h3",
                 "h4", "hr", "table", "thead", "tbody", "tr", "th", "td", "img"}  # fmt: skip


def markdown(text: str | None) -> Markup:
    """A story or update as safe HTML: markdown rendered, then sanitised (the services sanitise
    too; the site never trusts that)."""
    if not text:
        return Markup("")
    html = _markdown.render(text)
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "img": {"src", "alt", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow ugc",
    )
    return Markup(clean)  # noqa: S704 - sanitised just above


class StaticAssets:
    """`asset("css/site.css")` -> `/static/<hash>/css/site.css`. Files are read once and served
    from memory (a few dozen KB). Every stylesheet is served as ONE bundle (`css/site.css` first,
    then each feature's, by name): htmx's boosted navigation swaps the body and keeps the head, so a
    stylesheet linked from one page's head would be missing when that page is reached by a link."""

    BUNDLE = "css/bundle.css"

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.files: dict[str, bytes] = {}
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.files[path.relative_to(root).as_posix()] = path.read_bytes()
        sheets = [
            "css/site.css",
            *sorted(n for n in self.files if n.endswith(".css") and n != "css/site.css"),
        ]
        self.files[self.BUNDLE] = b"\n".join(self.files[n] for n in sheets if n in self.files)
        self.versions = {name: hashlib.sha256(body).hexdigest()[:10] for name, body in self.files.items()}

    def url(self, name: str) -> str:
        version = self.versions.get(name)
        if version is None:
            raise KeyError(f"no static asset {name!r}")
        return f"/static/{version}/{name}"

    def content(self, version: str, name: str) -> bytes | None:
        if self.versions.get(name) != version:
            return None
        return self.files[name]


class Templates:
    def __init__(
        self,
        locales: list[str],
        assets: StaticAssets,
        globals_: dict[str, Any],
        timezone: str = "Europe/Paris",
    ) -> None:
        self.envs: dict[str, Environment] = {}
        self.translations: dict[str, Any] = {}
        for locale in locales:
            env = Environment(
                loader=FileSystemLoader(TEMPLATES_DIR),
                autoescape=select_autoescape(["html", "xml"]),
                extensions=["jinja2.ext.i18n"],
                # Lenient: an optional field the API leaves out renders as nothing, never a 500.
                undefined=ChainableUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                enable_async=False,
            )
            translations = load_translations(locale)
            self.translations[locale] = translations
            env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
            formats = Formats(locale, timezone)
            env.filters.update(
                money=formats.money,
                amount_input=formats.amount_input,
                number=formats.number,
                percent=formats.percent,
                date=formats.date,
                datetime=formats.datetime,
                markdown=markdown,
            )
            env.globals.update(globals_, asset=assets.url, locale=locale)
            self.envs[locale] = env

    def render(self, locale: str, name: str, context: dict[str, Any]) -> str:
        return self.envs[locale].get_template(name).render(context)

    def gettext(self, locale: str) -> Callable[[str], str]:
        """For messages written in Python (flash messages, form errors)."""
        return self.translations[locale].gettext
