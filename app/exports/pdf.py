"""PDF copies of the print-ready export pages (case report, WGEID draft), made with WeasyPrint.

WeasyPrint lays text out with Pango and HarfBuzz, so Urdu and Balochi in Arabic script are joined
and ordered right-to-left correctly. The fonts come with Amanat (app/static/fonts: Amiri for
Arabic script, Noto Sans for Latin; docs/exports.md says why), so a PDF looks the same on every
server.

WeasyPrint is imported only when a PDF is asked for: when it or the system libraries it loads
(Pango, HarfBuzz, fontconfig) are missing, `PdfUnavailable` says so and the page offers the
printable HTML instead. Nothing is ever fetched from the network or from outside the app's static
folder while rendering (`static_only_fetcher`).
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from flask import current_app, render_template
from flask_babel import get_locale
from flask_babel import gettext as _


class PdfUnavailable(Exception):
    """WeasyPrint (or a system library it needs) cannot be loaded, or rendering failed."""


def weasyprint_module() -> Any:
    """The weasyprint module, imported on first use; PdfUnavailable when it cannot load.

    A missing Python package raises ImportError; a missing libpango / libharfbuzz raises OSError
    from cffi's dlopen when WeasyPrint loads its libraries at import time.
    """
    try:
        import weasyprint
        from weasyprint.text.fonts import FontConfiguration  # noqa: F401 - loads Pango too
    except (ImportError, OSError) as error:
        raise PdfUnavailable(f"{type(error).__name__}: {error}") from error
    return weasyprint


def unavailable_reason() -> str | None:
    """None when PDFs can be made here, else the technical reason (for the log, not the user)."""
    try:
        weasyprint_module()
    except PdfUnavailable as error:
        return str(error)
    return None


def text_dir(value: object) -> str:
    """"rtl" or "ltr" from the first strong character (the rule of HTML's dir="auto", which
    WeasyPrint does not apply), "auto" when there is none. Used as `dir="{{ value|text_dir }}"`
    in the export templates, so Urdu values are right-to-left paragraphs in the PDF too."""
    for char in str(value or ""):
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return "auto"


def static_root() -> Path:
    return Path(current_app.static_folder or "static").resolve()


def static_only_fetcher(root: Path) -> Any:
    """A WeasyPrint URL fetcher that serves files below `root` and refuses everything else
    (http, https, data, ftp, and file: outside the folder), so rendering never reaches out."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = root.resolve()

    class StaticOnlyFetcher(URLFetcher):
        def __init__(self) -> None:
            super().__init__(allowed_protocols={"file"}, allow_redirects=False)

        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
                raise ValueError(f"refused outside the app's static files: {url[:80]}")
            path = Path(url2pathname(parts.path)).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                raise ValueError(f"refused outside the app's static files: {url[:80]}")
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": kind})

    return StaticOnlyFetcher()


def css_string(text: str) -> str:
    """`text` as a quoted CSS string (quotes, backslashes, line breaks and `<` escaped)."""
    escaped = "".join(f"\\{ord(ch):x} " if ch in '"\\<>\n\r\f' else ch for ch in text)
    return f'"{escaped}"'


def _page_numbers_css() -> str:
    """The translated "Page N of M" as CSS content: strings around counter(page) and
    counter(pages), in whatever order the translation puts them."""
    marker = "\x00"
    text = _("Page %(page)s of %(pages)s", page=f"{marker}page{marker}",
             pages=f"{marker}pages{marker}")
    tokens = []
    for index, piece in enumerate(text.split(marker)):
        if index % 2:
            tokens.append(f"counter({'pages' if piece == 'pages' else 'page'})")
        elif piece:
            tokens.append(css_string(piece))
    return " ".join(tokens)


def _right_to_left() -> bool:
    from app import RTL_LANGUAGES

    locale = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    return locale.split("_")[0] in RTL_LANGUAGES


def stylesheet(reference: str, generated: date) -> str:
    """The PDF stylesheet: bundled fonts, A4 pages, and the footer with the case reference,
    generation date and page numbers (mirrored when the interface is right-to-left)."""
    footer = _("Case %(ref)s · generated %(on)s", ref=reference, on=generated.isoformat())
    return render_template("exports/pdf.css", footer=css_string(footer),
                           page_numbers=_page_numbers_css(), rtl=_right_to_left())


def render_pdf(html: str, *, reference: str, generated: date | None = None) -> bytes:
    """The PDF of `html` (an export page rendered with `pdf=True`); PdfUnavailable on failure."""
    weasyprint = weasyprint_module()
    from weasyprint.text.fonts import FontConfiguration

    root = static_root()
    base_url = root.as_uri() + "/"
    fetcher = static_only_fetcher(root)
    fonts = FontConfiguration()
    css = weasyprint.CSS(string=stylesheet(reference, generated or date.today()),
                         base_url=base_url, url_fetcher=fetcher, font_config=fonts)
    try:
        return weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf(
            stylesheets=[css], font_config=fonts, pdf_tags=True)
    except (OSError, RuntimeError, ValueError) as error:
        current_app.logger.exception("PDF rendering failed")
        raise PdfUnavailable(f"{type(error).__name__}: {error}") from error


def pdf_filename(kind: str, reference: str) -> str:
    """`<kind>-<case reference>.pdf` with anything but letters, digits, dot, dash and underscore
    dropped: the reference is the only thing from the record that names the file."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "", reference).strip(".") or "case"
    return f"{kind}-{safe}.pdf"
