"""Safe output: formula cells neutralised in every CSV export, user strings escaped in Markdown briefs."""
from __future__ import annotations

import csv
import io

import pytest
from markdown_it import MarkdownIt

import badinput
from core.safe_text import code_span, escape_html, escape_markdown, neutralise_csv_cell, neutralise_csv_frame

pytestmark = pytest.mark.timeout(300)

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
BEACON = "![x](http://host/beacon.png)"
_MD = MarkdownIt("commonmark").enable("table")


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://e","x")'])
def test_formula_cells_get_a_quote(cell):
    assert neutralise_csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("value", ["plain", "", "1,234", "'already", " =spaced", 5, -5.0, None])
def test_other_cells_unchanged(value):
    assert neutralise_csv_cell(value) == value


def test_frame_headers_and_cells():
    import pandas as pd

    df = pd.DataFrame({"=evil": ["=1", "ok"], "n": [-1, 2]})
    out = neutralise_csv_frame(df)
    assert list(out.columns) == ["'=evil", "n"] and out["'=evil"].tolist() == ["'=1", "ok"]
    assert out["n"].tolist() == [-1, 2] and list(df.columns) == ["=evil", "n"]  # the input is untouched


@pytest.mark.parametrize("payload", [BEACON, "[a](javascript:alert(1))", "<img src=x onerror=alert(1)>",
                                     "# title\n- item", "**bold** _it_", "a | b", "<http://host/x>"])
def test_markdown_payloads_render_as_their_own_text(payload):
    html = _MD.render(escape_markdown(payload))
    assert "<img" not in html and "<a " not in html and "<h1" not in html and "<strong" not in html
    assert html.count("<p>") == 1


@pytest.mark.parametrize("name", ["a`b`.png", "``x", "`", "plain.png", "x` ![i](http://h/i.png) `y.png"])
def test_code_spans_hold_any_file_name(name):
    html = _MD.render(code_span(name)).strip()
    assert html.startswith("<p><code>") and html.endswith("</code></p>") and "<img" not in html


def test_escape_html():
    assert escape_html('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"


# --- on a real library ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def payload_library(tmp_path_factory):
    import core

    base = tmp_path_factory.mktemp("payloads")
    src = base / "src"
    src.mkdir()
    names = ["=cmd.png", "+plus.png", "@at.png", "-minus.png", "tick`name`.png"]
    for i, name in enumerate(names):
        im = badinput._gradient(64 + 16 * i, 48)
        im.save(src / name)
    rows = [["file", "headline", "ad_text", "tags", "=evil_header"]]
    rows += [[n, BEACON, '=HYPERLINK("http://evil","click")', "@SUM(A1);-2+3", "=1+1"] for n in names]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    (src / "meta.csv").write_text(buf.getvalue(), encoding="utf-8")
    lib = core.open_library(base / "lib")
    core.ingest_source(lib, src, workers=1, build=True)
    yield lib
    lib.close()


def _cells(data: str):
    for row in csv.reader(io.StringIO(data)):
        yield from row


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _formula_cells(cells) -> list[str]:
    """Cells a spreadsheet would evaluate: formula-leading text. A number is a number (a node's map
    coordinate is often negative: -5.36e-08 once failed this test), while "-2+3" is a formula."""
    return [c for c in cells if c.startswith(FORMULA_LEADS) and not _number(c)]


def test_csv_exports_have_no_formula_leading_cell(payload_library, tmp_path):
    from core.export import export_ads, export_bytes

    assert payload_library.counts()["ads"] == 5
    path = export_ads(payload_library, "csv", tmp_path / "ads.csv")
    downloads = [path.read_text(encoding="utf-8"), export_bytes(payload_library, "assignments", "csv").decode()]
    if payload_library.current_run("taxonomy") is not None:
        downloads.append(export_bytes(payload_library, "taxonomy", "csv").decode())
    for data in downloads:
        cells = list(_cells(data))
        assert "'=cmd.png" in cells or "'=evil_header" in cells or len(cells) > 0
        bad = _formula_cells(cells)
        assert not bad, bad[:5]
    exported = list(csv.DictReader(io.StringIO(downloads[0])))
    assert {r["file"] for r in exported} == {"'=cmd.png", "'+plus.png", "'@at.png", "'-minus.png", "tick`name`.png"}
    assert "'=evil_header" in exported[0]


def test_brief_renders_no_image_and_keeps_file_names_in_code(payload_library):
    from core.export import node_brief
    from core.views.taxonomy import nodes_frame

    nodes = nodes_frame(payload_library)
    if nodes is None:
        pytest.skip("no taxonomy on five ads")
    for node_id in nodes.index[nodes["level"] > 0]:
        html = _MD.render(node_brief(payload_library, node_id))
        assert "<img" not in html and 'href="http://host' not in html
        assert "beacon.png" not in html or "![x](http://host/beacon.png)" in html  # shown as text, if shown


def test_brief_zip_csv_has_no_formula_leading_cell(payload_library):
    import zipfile

    from core.briefs import node_zip
    from core.views.taxonomy import nodes_frame

    nodes = nodes_frame(payload_library)
    if nodes is None:
        pytest.skip("no taxonomy on five ads")
    node_id = nodes.index[nodes["level"] == 1][0]
    with zipfile.ZipFile(io.BytesIO(node_zip(payload_library, node_id))) as zf:
        data = zf.read("ads.csv").decode("utf-8")
    cells = list(_cells(data))
    assert cells and not _formula_cells(cells)
