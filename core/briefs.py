"""Briefs a person can send: a node brief or a board as one self-contained HTML page (every image
embedded as a base64 data URI, every user string HTML-escaped), and a zip with the page, the
original media files and a CSV of the ads.

Plain functions over a `Library`; the pages offer them as downloads.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import mimetypes
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Iterable

import pandas as pd

from .gallery import library_currency, money

_CSS = """body{font:15px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2430;max-width:1100px;margin:24px auto;padding:0 16px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #e3e5ea;padding-bottom:4px}
.muted{color:#6b7280;font-size:13px}.kw{display:inline-block;background:#eef2ff;color:#3730a3;border-radius:10px;padding:1px 9px;margin:2px 4px 2px 0;font-size:13px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:14px}
.ad{border:1px solid #e3e5ea;border-radius:8px;overflow:hidden;background:#fff}.ad img{width:100%;height:190px;object-fit:contain;background:#f3f4f8;display:block}
.ad .t{padding:6px 8px;font-size:12.5px;word-break:break-word}.noimg{height:190px;background:#f3f4f8;display:flex;align-items:center;justify-content:center;color:#8a8f98}
table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #eceef2;padding:4px 10px;text-align:left}
.kids li{margin:2px 0}details{margin-top:10px}"""


def esc(v) -> str:
    """HTML-escape any value (None -> ''), quotes included."""
    return "" if v is None else html.escape(str(v), quote=True)


def _csv_safe(v):
    """A cell a spreadsheet will not run as a formula (OWASP: prefix = + - @ tab CR with ')."""
    return "'" + v if isinstance(v, str) and v.startswith(("=", "+", "-", "@", "\t", "\r")) else v


def data_uri(path: str | Path | None) -> str | None:
    """A file as a base64 data URI (None when missing)."""
    if not path:
        return None
    p = Path(path)
    if not p.is_file():
        return None
    mime = mimetypes.guess_type(p.name)[0] or "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode('ascii')}"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{_CSS}</style></head>"
            f"<body>{body}<p class='muted'>Made with the Creative Taxonomy Explorer · {datetime.now():%d %b %Y}</p></body></html>")


def _ad_tiles(library, tiles: pd.DataFrame, currency: str | None) -> str:
    text = _ocr_text(library, tiles["ad_id"].tolist()) if len(tiles) else {}
    out = []
    for r in tiles.to_dict("records"):
        uri = data_uri(r.get("thumb"))
        img = f"<img src='{uri}' alt='{esc(Path(str(r['file'])).name)}'>" if uri else "<div class='noimg'>no preview</div>"
        bits = [f"<b>{esc(Path(str(r['file'])).name)}</b>" + (" · video" if r.get("kind") == "video" else "")]
        if isinstance(r.get("headline"), str) and r["headline"]:
            bits.append(f"“{esc(r['headline'])}”")
        words = (text.get(int(r["ad_id"])) or "").strip().replace("\n", " ")
        if words:
            bits.append(f"<span class='muted'>text: {esc(words[:140])}{'…' if len(words) > 140 else ''}</span>")
        perf = []
        if _num(r.get("spend")) is not None:
            perf.append(f"spend {money(r['spend'], currency)}")
        if _num(r.get("ctr")) is not None:
            perf.append(f"CTR {float(r['ctr']):.2%}")
        if perf:
            bits.append(f"<span class='muted'>{esc(' · '.join(perf))}</span>")
        out.append(f"<div class='ad'>{img}<div class='t'>{'<br>'.join(bits)}</div></div>")
    return "<div class='grid'>" + "".join(out) + "</div>"


def _num(v):
    try:
        f = float(v)
        return None if f != f else f
    except (TypeError, ValueError):
        return None


def _ocr_text(library, ad_ids: list[int]) -> dict[int, str]:
    rows = library.execute("SELECT a.id, c.ocr_text FROM ads a JOIN creatives c ON c.id = a.creative_id "
                           "WHERE a.id IN (SELECT unnest(?::INTEGER[]))", [[int(i) for i in ad_ids]]).fetchall()
    return {int(i): t or "" for i, t in rows}


def node_brief_html(library, node_id: str, n_reps: int = 8) -> str:
    """One node as a page to send: name, description, keywords, performance, what is inside, representative ads
    as images, and the statistics behind it in a collapsed 'Evidence' section."""
    from .views import PERF_KEYS, ads_page, node_card

    card = node_card(library, node_id)
    cur = library_currency(library)
    parts = [f"<h1>{esc(card['label'])}</h1>",
             f"<div class='muted'>{esc(card['level_name'].capitalize())} · {card['size']:,} ads"
             + (f" · {esc(card['path'])}" if len(card["chain"]) > 1 else "") + "</div>"]
    if card["description"]:
        parts.append(f"<p>{esc(card['description'])}</p>")
    if card["keywords"]:
        parts.append("<div>" + "".join(f"<span class='kw'>{esc(k)}</span>" for k in card["keywords"]) + "</div>")
    perf = card["perf"]
    rows = [(k, perf[k]) for k in PERF_KEYS if isinstance(perf.get(k), (int, float))]
    if rows:
        parts.append("<h2>Performance</h2><table><tr><th>metric</th><th>value</th><th>likely range</th></tr>")
        for k, v in rows:
            f = (lambda x: f"{x:.2%}") if k in ("ctr", "cvr") else (lambda x: money(x, cur)) if k == "spend" else (lambda x: f"{x:,.0f}")
            lo, hi = perf.get(f"{k}_low"), perf.get(f"{k}_high")
            rng = f"{f(lo)} – {f(hi)}" if lo is not None and hi is not None else ""
            parts.append(f"<tr><td>{esc(k.upper() if k in ('ctr', 'cvr') else k.capitalize())}</td><td>{esc(f(v))}</td>"
                         f"<td>{esc(rng)}</td></tr>")
        parts.append("</table>")
    if card["children"]:
        parts.append("<h2>Inside</h2><ul class='kids'>" + "".join(
            f"<li><b>{esc(c['label'])}</b> — {int(c['size'] or 0):,} ads</li>" for c in card["children"]) + "</ul>")
    reps = card["representatives"].head(n_reps)
    if len(reps) < n_reps:        # a node whose build kept few representatives: fill up with its other ads
        _, more = ads_page(library, node_id=node_id, page=1, per_page=n_reps - len(reps), exclude=tuple(reps["ad_id"]))
        reps = pd.concat([reps, more], ignore_index=True) if len(reps) else more
    if len(reps):
        parts.append("<h2>Representative ads</h2>" + _ad_tiles(library, reps, cur))
    tags = card["tags"]
    if len(tags):
        parts.append("<details><summary>Evidence: what sets these ads apart</summary>"
                     + tags.head(15).to_html(index=False, escape=True, float_format=lambda x: f"{x:.3g}", border=0)
                     + "<p class='muted'>share in / share rest: how many of this node's ads, and of the other ads, have the "
                       "tag; q: false-discovery-adjusted p-value (lower = stronger evidence).</p></details>")
    return _page(card["label"], "".join(parts))


def board_html(library, name: str) -> str:
    """A board as a page to send: its name and every ad as an image with its file name, headline, text and results."""
    from .boards import board_ad_ids
    from .views import ads_by_ids

    ids = board_ad_ids(library, name)
    tiles = ads_by_ids(library, ids)
    body = (f"<h1>{esc(name)}</h1><div class='muted'>Board · {len(ids):,} ads · library {esc(library.path.name)}</div>"
            + (_ad_tiles(library, tiles, library_currency(library)) if len(tiles) else "<p>This board is empty.</p>"))
    return _page(name, body)


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:60] or "board"


def ads_zip(library, ad_ids: Iterable[int], page_html: str, title: str) -> bytes:
    """A zip to hand over: index.html (self-contained), the ads' original files under media/, and ads.csv."""
    from .safe_text import neutralise_csv_cell
    from .views import ads_by_ids

    tiles = ads_by_ids(library, list(ad_ids))
    buf = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("index.html", page_html)
        rows = []
        for r in tiles.to_dict("records"):
            src = r.get("media") or r.get("thumb")
            arc = None
            if src and Path(src).is_file():
                base = Path(str(r["file"])).name or Path(src).name
                arc = f"media/{base}"
                n = 1
                while arc in used:
                    n += 1
                    arc = f"media/{Path(base).stem}-{n}{Path(base).suffix or Path(src).suffix}"
                used.add(arc)
                zf.write(src, arc)
            rows.append({"ad_id": r["ad_id"], "file": _csv_safe(r["file"]), "kind": r["kind"],
                         "headline": _csv_safe(r.get("headline") or ""), "spend": r.get("spend"), "ctr": r.get("ctr"),
                         "in_zip": _csv_safe(arc or "")})
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=["ad_id", "file", "kind", "headline", "spend", "ctr", "in_zip"])
        w.writeheader()
        w.writerows({k: neutralise_csv_cell(v) for k, v in r.items()} for r in rows)  # no formula cells (OWASP)
        zf.writestr("ads.csv", out.getvalue())
        zf.writestr("README.txt", f"{title}\n\nindex.html: open in any browser (images are inside the page).\n"
                                  "media/: the original files. ads.csv: one row per ad.\n")
    return buf.getvalue()


def board_zip(library, name: str) -> bytes:
    from .boards import board_ad_ids

    return ads_zip(library, board_ad_ids(library, name), board_html(library, name), f"Board: {name}")


def node_zip(library, node_id: str) -> bytes:
    from .views import node_card

    card = node_card(library, node_id)
    return ads_zip(library, card["representatives"]["ad_id"].tolist(), node_brief_html(library, node_id),
                   f"Brief: {card['label']}")
