"""Jinja2 templates -> subject, in-app title, plain-text and HTML bodies, in the user's locale.

Each notification kind has one template per locale (`templates/<locale>/<kind>.txt`) defining
the blocks `subject`, `title`, `body` (paragraphs separated by blank lines) and optionally
`action_label` (with `action_url` in the context). The per-locale layouts (`layout.txt`,
`layout.html`) add greeting, button, and the footer with the unsubscribe link; the HTML layout
escapes everything it is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .domain import RENAMED_KINDS, format_money, locale_of


@dataclass(frozen=True)
class Rendered:
    subject: str
    title: str
    text: str
    html: str


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("notifications", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,  # a template naming a missing field fails loudly in tests
        keep_trailing_newline=False,
    )
    return env


def _block(template: Any, name: str, context: dict[str, Any]) -> str:
    if name not in template.blocks:
        return ""
    return "".join(template.blocks[name](template.new_context(context))).strip()


def _squash(text: str) -> str:
    # Not str.split(): that would also eat the no-break spaces of "25,00\u00a0€".
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def render(kind: str, locale: str, context: dict[str, Any]) -> Rendered:
    locale = locale_of(locale)
    env = environment()
    ctx = {"locale": locale, "money": lambda amount, currency: format_money(amount, currency, locale)}
    ctx.update(context)
    template = env.get_template(f"{locale}/{RENAMED_KINDS.get(kind, kind)}.txt")
    subject = _squash(_block(template, "subject", ctx))
    title = _squash(_block(template, "title", ctx)) or subject
    body = _block(template, "body", ctx)
    paragraphs = [_squash(p) for p in re.split(r"\n[ \t]*\n", body) if p.strip()]
    layout_ctx = {
        **ctx,
        "subject": subject,
        "paragraphs": paragraphs,
        "action_label": _squash(_block(template, "action_label", ctx)),
    }
    # Block tags leave blank lines behind; a plain-text mail wants at most one between paragraphs.
    text = re.sub(
        r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", env.get_template(f"{locale}/layout.txt").render(layout_ctx)
    )
    text = text.strip() + "\n"
    html = env.get_template(f"{locale}/layout.html").render(layout_ctx)
    return Rendered(subject=subject, title=title, text=text, html=html)
