"""What a content file may put into a page: text and a fixed set of harmless Markdown elements.

About texts are Markdown, and Markdown lets raw HTML through. Whoever may edit content must not
be able to run a script in a reader's browser, nor in an archived snapshot that is kept forever,
so the HTML that Markdown produces goes through an allow-list (nh3, a binding to the Rust
sanitizer Ammonia): only the elements and attributes below survive, links may only point to
http(s), mailto, tel or a relative address, and everything else (<script>, <style>, <iframe>,
event handlers, style attributes, javascript: URLs, comments) is dropped.

Every other field is plain text, escaped by Jinja's autoescape; the page's Content-Security-Policy
(templates/base.html) is a second line of defence: only the site's own script files run.
"""

from __future__ import annotations

import nh3

# What Python-Markdown with the "extra" and "sane_lists" extensions writes for ordinary text; its
# headings start at h3 (render.markdown_html), so a raw <h1> or <h2> is cut to its text.
TAGS = {
    "p", "br", "hr", "h3", "h4", "h5", "h6", "em", "strong", "code", "pre", "blockquote",
    "ul", "ol", "li", "dl", "dt", "dd", "a", "abbr", "sup", "sub",
    "table", "thead", "tbody", "tr", "th", "td", "div",
}
ATTRIBUTES = {
    "a": {"href", "title", "id", "class"},  # footnote references carry an id and a class
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"align"}, "td": {"align"},
    "sup": {"id"}, "li": {"id"}, "div": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}


def clean_html(html: str) -> str:
    """HTML from Markdown, with everything outside the allow-list removed."""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel=None, strip_comments=True)
