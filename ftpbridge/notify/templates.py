"""The customer e-mail's templates: Jinja2, with autoescaping for the HTML part (customer
and product names are untrusted), strict about undefined names (a mistyped name in a
template is an error, not an empty string).

Three templates make one e-mail: ``shipment.subject.txt`` (one line), ``shipment.txt``
(the plain-text part) and ``shipment.html`` (the HTML part). ``[notify.email]
templates_dir`` replaces any of them: a file of the same name there wins over the
built-in one (``ftpbridge/notify/templates/``). Each gets:

- ``order_id``, ``name`` (the customer's, may be empty), ``email`` (the recipient),
- ``items``: each with ``product_name``, ``quantity``, ``shipped_date``, ``carrier`` (the
  carrier's name for people, e.g. "Royal Mail"), ``carrier_code`` (``ROYAL_MAIL``),
  ``tracking_number``, ``tracking_url`` (None for a carrier without a tracking page),
  ``corrected`` (true: new details for an item shipped before),
- ``corrected`` (every item is a correction), ``subject`` (in the HTML part), ``reply_to``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from ftpbridge.errors import ConfigError

SUBJECT, TEXT, HTML = "shipment.subject.txt", "shipment.txt", "shipment.html"
MAX_SUBJECT = 200


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def one_line(text: str, limit: int = MAX_SUBJECT) -> str:
    """``text`` on one line: every run of whitespace and control characters (CR, LF,
    tabs, Unicode line separators) becomes one space; at most ``limit`` characters."""
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    line = " ".join(cleaned.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


SAMPLE: dict[str, Any] = {
    "order_id": "1001",
    "name": "Grace <b>Hopper</b>",
    "email": "grace@example.com",
    "corrected": False,
    "reply_to": "shop@example.com",
    "items": [
        {
            "product_name": "Hoodie",
            "quantity": 1,
            "shipped_date": "2026-11-22",
            "carrier": "UPS",
            "carrier_code": "UPS",
            "tracking_number": "1Z5R89390357567127",
            "tracking_url": "https://www.ups.com/track?tracknum=1Z5R89390357567127",
            "corrected": False,
        }
    ],
}


class Templates:
    """The three templates, the shop's own where ``templates_dir`` has them."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if templates_dir is not None:
            if not templates_dir.is_dir():
                raise ConfigError(
                    f"[notify.email] templates_dir {templates_dir} is not a folder",
                    hint="create it, or remove the key to use the built-in templates",
                )
            loaders.append(jinja2.FileSystemLoader(templates_dir))
        loaders.append(jinja2.PackageLoader("ftpbridge.notify", "templates"))
        self.where = templates_dir
        self.environment = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "htm"), default_for_string=False, default=False
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, context: dict[str, Any]) -> Rendered:
        """The e-mail for ``context`` (see the module doc); Jinja2's errors as they come."""
        subject = one_line(self.environment.get_template(SUBJECT).render(context))
        text = self.environment.get_template(TEXT).render(context)
        html = self.environment.get_template(HTML).render({**context, "subject": subject})
        return Rendered(subject, text, html)

    def check(self) -> None:
        """Render a sample e-mail; ConfigError naming the template, line and problem."""
        try:
            rendered = self.render(SAMPLE)
        except jinja2.TemplateError as exc:
            raise ConfigError(
                f"the e-mail template {describe(exc, self.where)} cannot be used: {exc}",
                hint="fix the template; the built-in ones are in ftpbridge/notify/templates/",
            ) from None
        if not rendered.subject:
            raise ConfigError(f"the e-mail template {SUBJECT} renders an empty subject")


def describe(exc: jinja2.TemplateError, where: Path | None) -> str:
    """Which template (and line) a Jinja2 error is about."""
    name = getattr(exc, "name", None) or getattr(exc, "filename", None) or "?"
    line = getattr(exc, "lineno", None)
    place = str(where / name) if where is not None and (where / name).exists() else name
    return place + (f", line {line}" if line else "")
