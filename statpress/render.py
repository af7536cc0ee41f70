"""Render stage: turn published statistics into pages (bytes by relative path), nothing on disk.

Templates are Jinja2 files in `templates/`. Links are relative, so the site works from any folder
of any web server, from a file:// URL and inside a web archive.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import markdown
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError

from .content import Release, Statistic
from .errors import BuildError
from .locale import Locale, plain_number
from .tables import Table


@dataclass(frozen=True)
class Published:
    """One statistic as the public sees it at the build's instant."""
    statistic: Statistic
    release: Release | None  # the latest release due; None before the first
    next_release: Release | None  # the next announced release, if any
    tables: list[Table]
    key_figure: object | None
    previous: list[Release]
    embargoed: bool = False  # a preview of a release not yet due
    charts: list = field(default_factory=list)

    def charts_for(self, table) -> list:
        return [c for c in self.charts if c.table == table.id]

    def marks(self, table) -> dict[str, str]:
        """Symbols after the figures of whole rows: 'r' revised by a correction, '*' provisional."""
        if self.release is None:
            return {}
        marks = {}
        for symbol, items in (("*", self.release.provisional), ("r", self.release.corrections)):
            for item in items:
                if table.id in item.tables:
                    marks.update({f"year:{period}": symbol for period in item.periods})
        return marks


class Renderer:
    def __init__(self, templates: Path, locale: Locale):
        self.templates = templates
        self.locale = locale
        self.env = Environment(
            loader=FileSystemLoader(templates), autoescape=True, undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        )
        self.env.globals.update(t=locale.t, num=locale.number, date=locale.date, time=locale.time,
                                month_name=locale.month)
        self.env.filters["markdown"] = markdown_html
        self.env.filters["json_script"] = json_script
        self.env.filters["slug"] = lambda text: re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")

    def page(self, template: str, path: str, **context) -> bytes:
        """Render a page; `path` is its place in the site, for relative links."""
        root = "../" * (len(PurePosixPath(path).parts) - 1)
        context.setdefault("assets", root + "assets/")  # a snapshot carries its own
        context.setdefault("archived", False)
        try:
            html = self.env.get_template(template).render(
                root=root, page_path=path, lang=self.locale.language, **context)
        except TemplateSyntaxError as exc:
            raise BuildError(f"{exc.filename or template}, line {exc.lineno}: template error: {exc.message}") from None
        except TemplateError as exc:
            raise BuildError(f"{self.templates / template}{template_line(exc)}: template error: {exc}") from None
        return html.encode("utf-8")


def template_line(exc: Exception) -> str:
    """', line N' of the template frame where a rendering error happened, if known."""
    tb, line = exc.__traceback__, ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".html"):
            line = f", line {tb.tb_lineno}"
        tb = tb.tb_next
    return line


HEADING = re.compile(r"<(/?)h([1-6])\b")


def markdown_html(text: str, shift: int = 2) -> str:
    """Markdown to HTML, headings moved down so '###' nests under the page's own headings."""
    html = markdown.markdown(text, extensions=["extra", "sane_lists"], output_format="html")
    return HEADING.sub(lambda m: f"<{m.group(1)}h{min(6, int(m.group(2)) + shift)}", html)


def json_script(text: str) -> str:
    """JSON safe inside a <script> element: no '</' can end it early."""
    return text.replace("</", "<\\/")


def table_csv(table: Table) -> bytes:
    """A table as CSV: visible columns, figures unformatted (a point as decimal mark)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = table.visible_columns
    writer.writerow([table.stub or ""] + [" ".join(filter(None, [c.group, c.label, c.period])) for c in columns])
    for row in table.rows:
        if row.heading:
            continue
        cells = []
        for c in columns:
            value = table.values.at[row.key, c.id]
            cells.append(plain_number(value, c.decimals))
        writer.writerow([row.label] + cells)
    return out.getvalue().encode("utf-8")
