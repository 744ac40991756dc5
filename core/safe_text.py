"""Untrusted text (file names, metadata cells, OCR) made safe for where it is shown or written.

* CSV: a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is a formula to
  Excel/Sheets/LibreOffice; OWASP's rule prefixes it with ``'`` so it shows as text.
* Markdown (Streamlit renders it): every character Markdown gives meaning to is backslash-escaped,
  so ``![x](http://host/beacon.png)`` shows as text and fetches nothing.
* Code spans: a name inside backticks gets a fence longer than any backtick run inside it.
* HTML: ``html.escape`` with quotes.
* Plotly: labels, legend names, tick labels and hover text render a subset of HTML (``<b>``, ``<a href>``,
  ``<span style>``, ``<br>``); escaped to entities, which Plotly shows as the characters themselves.
"""
from __future__ import annotations

import html
import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&])")
_NEWLINES = re.compile(r"[\r\n]+")


def neutralise_csv_cell(value):
    """``'`` before a formula-leading string (OWASP CSV injection); anything else unchanged.

    Numbers are left alone (a negative number is not text a spreadsheet evaluates).
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def neutralise_csv_frame(df):
    """A copy of a DataFrame with every text cell and every column name neutralised."""
    out = df.copy()
    out.columns = [neutralise_csv_cell(str(c)) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("string", "str"):
            out[col] = out[col].map(neutralise_csv_cell)
    return out


def escape_markdown(text) -> str:
    """Text shown literally by a Markdown renderer: no links, images, emphasis, HTML or headings.

    Line breaks become spaces: one user string never starts a new block (a heading, a list).
    """
    if text is None:
        return ""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _NEWLINES.sub(" ", str(text)))


def code_span(text) -> str:
    """``text`` as an inline code span that no backtick inside it can close early."""
    s = _NEWLINES.sub(" ", "" if text is None else str(text))
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def escape_html(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def escape_plotly(text) -> str:
    """Text Plotly shows literally (no tags, no links): ``<`` ``>`` ``&`` as entities, line breaks as spaces."""
    return html.escape(_NEWLINES.sub(" ", "" if text is None else str(text)), quote=False)
