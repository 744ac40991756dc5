"""parse_metadata_csv: typed canonical fields, kept extras, and warnings that name row and column."""
from __future__ import annotations

import pytest

from core.metadata import parse_metadata_csv
from badinput import MISSING_REFERENCED_FILE, csv_bytes


def _parse(text: str, csv_path: str = "metadata.csv"):
    return parse_metadata_csv(text.encode("utf-8"), csv_path)


def _field(column: str, value: str, field: str):
    rows, warnings = _parse(f"file,{column}\na.png,\"{value}\"\n")
    return rows[0].fields[field], warnings


@pytest.fixture(scope="module")
def corpus_metadata():
    return parse_metadata_csv(csv_bytes()["metadata.csv"], "metadata.csv")


def test_corpus_rows_are_typed(corpus_metadata) -> None:
    rows, _ = corpus_metadata
    first = rows[0]
    assert (first.file, first.row_number) == ("good.png", 2)
    assert first.fields == {"headline": "Summer sale", "copy": "Line one\nline two", "spend": 1234.5,
                            "impressions": 12000, "date": "2017-05-03", "tags": ["summer", "sale"]}
    assert first.attributes == {"brand_voice": "playful"}  # unknown column kept as text
    assert rows[1].fields["date"] == "2017-05-03"  # "May 3, 2017"


def test_bad_number_is_empty_with_a_warning(corpus_metadata) -> None:
    rows, warnings = corpus_metadata
    assert rows[1].fields["spend"] is None and rows[1].fields["impressions"] is None  # "abc", "NA"
    assert [(w.row, w.column) for w in warnings] == [(3, "spend")]
    assert warnings[0].message == "metadata.csv row 3: spend 'abc' is not a number; left empty."


def test_missing_file_row_still_parses(corpus_metadata) -> None:
    rows, _ = corpus_metadata
    assert MISSING_REFERENCED_FILE in [r.file for r in rows]


def test_duplicate_rows_for_one_file_are_all_kept(corpus_metadata) -> None:
    rows, _ = corpus_metadata
    copies = [r.fields["copy"] for r in rows if r.file == "good.png"]
    assert copies == ["Line one\nline two", "Different copy for the same image"]


def test_no_file_column_means_not_used() -> None:
    rows, warnings = parse_metadata_csv(csv_bytes()["no_file_column.csv"], "no_file_column.csv")
    assert rows == [] and len(warnings) == 1
    assert "no_file_column.csv was not used" in warnings[0].message and "'file'" in warnings[0].message


def test_cp1252_is_read_with_a_warning() -> None:
    rows, warnings = parse_metadata_csv(csv_bytes()["cp1252.csv"], "cp1252.csv")
    assert rows[0].fields["headline"] == "Café été"  # semicolon-delimited too
    assert len(warnings) == 1 and "not UTF-8" in warnings[0].message and "cp1252.csv" in warnings[0].message


def test_utf8_bom_and_utf16_excel_export() -> None:
    bom_rows, bom_warnings = parse_metadata_csv(b"\xef\xbb\xbfFile,Title\na.png,Hi\n", "m.csv")
    utf16_rows, _ = parse_metadata_csv("file\theadline\na.png\tÉté\n".encode("utf-16"), "m.csv")
    assert bom_rows[0].fields == {"headline": "Hi"} and not bom_warnings
    assert utf16_rows[0].fields == {"headline": "Été"}


def test_file_is_relative_to_the_source_root() -> None:
    rows, warnings = _parse("file\n./img/a.png\nimg\\b.png\n../top.png\ncafe\u0301.png\n", "brand/meta.csv")
    assert [r.file for r in rows] == ["brand/img/a.png", "brand/img/b.png", "top.png", "brand/café.png"]
    assert not warnings


def test_file_outside_the_upload_is_skipped() -> None:
    rows, warnings = _parse("file\n../../etc/passwd\n", "meta.csv")
    assert rows == [] and warnings[0].row == 2 and "outside the upload" in warnings[0].message


def test_absolute_path_matches_by_file_name() -> None:
    rows, warnings = _parse("file\n/Users/bob/ads/a.png\nhttps://cdn.example.com/x/b.png?v=2\n", "set/meta.csv")
    assert [r.file for r in rows] == ["set/a.png", "set/b.png"]
    assert [w.row for w in warnings] == [2, 3]


def test_empty_file_value_skips_the_row() -> None:
    rows, warnings = _parse("file,headline\n,Orphan\nb.png,Kept\n")
    assert [r.file for r in rows] == ["b.png"]
    assert (warnings[0].row, warnings[0].column) == (2, "file") and "row skipped" in warnings[0].message


def test_blank_rows_are_ignored_silently() -> None:
    rows, warnings = _parse("file,headline\na.png,x\n,\n\n")
    assert len(rows) == 1 and not warnings


@pytest.mark.parametrize("header", ["file", "Filename", "File Name", "path", "image", "asset"])
def test_file_column_aliases(header: str) -> None:
    rows, _ = _parse(f"{header},headline\na.png,x\n")
    assert rows[0].file == "a.png"


def test_header_matching_ignores_case_spaces_and_units() -> None:
    rows, _ = _parse("File,Call To Action,Amount spent (USD),Campaign Name,Start Date,Impr\na.png,Buy,5,Q1,2017-05-03,7\n")
    assert rows[0].fields == {"cta": "Buy", "spend": 5.0, "campaign": "Q1", "date": "2017-05-03", "impressions": 7}


def test_first_matching_column_wins_and_the_rest_are_attributes() -> None:
    rows, _ = _parse("file,title,headline,mood\na.png,First,Second,sunny\n")
    assert rows[0].fields == {"headline": "First"}
    assert rows[0].attributes == {"headline": "Second", "mood": "sunny"}


def test_extra_cells_and_empty_values() -> None:
    rows, _ = _parse("file,mood\na.png,,surplus\n")
    assert rows[0].attributes == {"column_3": "surplus"}  # empty "mood" is left out


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_sniffing(delimiter: str) -> None:
    rows, _ = _parse(delimiter.join(["file", "headline", "spend"]) + "\n" + delimiter.join(["a.png", "Hi", "3"]))
    assert rows[0].fields == {"headline": "Hi", "spend": 3.0}


@pytest.mark.parametrize("raw, expected", [
    ("1,234", 1234), ("$12.50", 12.5), ("12%", 0.12), ("", None), ("NA", None), ("-", None),
    ("(5)", -5), ("1.234,56", 1234.56), ("€ 1 234,50", 1234.5), ("12,5", 12.5), ("1,234,567.5", 1234567.5),
])
def test_numbers(raw: str, expected: float | None) -> None:
    value, warnings = _field("revenue", raw, "revenue")  # revenue: refunds may make it negative
    assert value == pytest.approx(expected) and not warnings


def test_counts_are_ints() -> None:
    assert _field("clicks", "1,200", "clicks") == (1200, [])


def test_ctr_percent_sign_and_percent_column() -> None:
    assert _field("ctr", "12%", "ctr")[0] == pytest.approx(0.12)
    rows, warnings = _parse("file,CTR (all)\na.png,1.5\nb.png,0.5\n")
    assert [r.fields["ctr"] for r in rows] == pytest.approx([0.015, 0.005])
    assert "percentages" in warnings[0].message


@pytest.mark.parametrize("raw", ["2017-05-03", "2017-05-03 12:00:00", "05/03/2017", "2017-05-03T12:00:00Z",
                                 "May 3, 2017", "3 May 2017", "20170503", "5/3/2017 10:00 AM", "2017/05/03"])
def test_dates(raw: str) -> None:
    assert _field("date", raw, "date") == ("2017-05-03", [])


def test_bad_date_is_empty_with_a_warning() -> None:
    value, warnings = _field("launch_date", "next tuesday", "date")
    assert value is None
    assert warnings[0].message == "metadata.csv row 2: launch_date 'next tuesday' is not a date; left empty."


def test_tags_split_on_separators() -> None:
    assert _field("keywords", "sale; summer|beach , sale", "tags")[0] == ["sale", "summer", "beach"]


def test_warnings_are_capped_per_column() -> None:
    body = "".join(f"f{i}.png,bad\n" for i in range(30))
    rows, warnings = _parse("file,spend\n" + body)
    assert len(rows) == 30 and len(warnings) == 11
    assert "20 more problems" in warnings[-1].message


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04\x14\x00binary", bytes(range(256)) * 4],
                         ids=["empty", "xlsx", "binary"])
def test_unusable_file_is_one_warning_not_an_exception(data: bytes) -> None:
    rows, warnings = parse_metadata_csv(data, "odd.csv")
    assert rows == [] and len(warnings) == 1 and warnings[0].message.startswith("odd.csv")


def test_enormous_field_stops_with_a_warning() -> None:
    rows, warnings = _parse('file,copy\na.png,ok\nb.png,"' + "x" * 200_000 + '"\n')
    assert [r.file for r in rows] == ["a.png"]
    assert "could not be parsed" in warnings[0].message


# --- hostile and implausible metadata (issue 17) ------------------------------------------------------

def test_explicit_percent_is_never_rescaled_again() -> None:
    rows, warnings = _parse("file,ctr\na.png,2%\nb.png,150%\nc.png,1.5\n")
    ctr = {r.file: r.fields["ctr"] for r in rows}
    assert ctr["a.png"] == pytest.approx(0.02) and ctr["c.png"] == pytest.approx(0.015)
    assert ctr["b.png"] is None and rows[1].attributes == {"ctr (unconfirmed)": "150%"}
    assert any("row 3" in w.message and "over 100%" in w.message for w in warnings)


def test_excel_serial_date_is_flagged_not_trusted() -> None:
    value, warnings = _field("date", "42858", "date")
    assert value is None and "Excel day number (2017-05-03)" in warnings[0].message


def test_unclosed_quote_names_its_line_and_keeps_the_next_rows() -> None:
    rows, warnings = _parse('file,headline,spend\na.png,ok,1\nb.png,"broken,2\nc.png,fine,3\nd.png,also fine,4\n')
    assert [r.file for r in rows] == ["a.png", "c.png", "d.png"]
    assert [r.row_number for r in rows] == [2, 4, 5]
    assert "line 3" in warnings[0].message and "never closed" in warnings[0].message


def test_quoted_multiline_cells_still_work() -> None:
    rows, warnings = _parse('file,copy,spend\na.png,"two\nlines",1\nb.png,x,2\n')
    assert [r.fields["copy"] for r in rows] == ["two\nlines", "x"] and not warnings


@pytest.mark.parametrize("row, field", [
    ("a.png,-5,10,1,2024-01-01,2024-02-01", "impressions"),
    ("a.png,100,-1,1,2024-01-01,2024-02-01", "clicks"),
    ("a.png,100,500,1,2024-01-01,2024-02-01", "clicks"),
    ("a.png,100,5,1e308,2024-01-01,2024-02-01", "spend"),
    ("a.png,100,5,1,2024-03-01,2024-02-01", "end_date"),
    ("a.png,100,5,1,1900-01-01,2024-02-01", "date"),
])
def test_implausible_values_are_flagged_and_kept_out(row: str, field: str) -> None:
    rows, warnings = _parse("file,impressions,clicks,spend,date,end_date\n" + row + "\n")
    assert rows[0].fields[field] is None
    assert f"{field} (unconfirmed)" in rows[0].attributes
    assert len(warnings) == 1 and "row 2" in warnings[0].message and "left out of totals" in warnings[0].message


def test_plausible_row_has_no_warning() -> None:
    rows, warnings = _parse("file,impressions,clicks,spend,date,end_date,ctr\na.png,100,5,9.5,2024-01-01,2024-02-01,5%\n")
    assert not warnings and rows[0].fields["clicks"] == 5 and rows[0].fields["ctr"] == pytest.approx(0.05)


def test_rows_per_file_and_rows_per_csv_are_capped() -> None:
    from core.limits import IngestLimits

    body = "".join(f"one.png,copy {i}\n" for i in range(5000))
    rows, warnings = parse_metadata_csv(("file,copy\n" + body).encode(), "m.csv", IngestLimits(max_ads_per_creative=50))
    assert len(rows) == 50 and "5,000 rows for 'one.png'" in warnings[-1].message
    body = "".join(f"f{i}.png,copy\n" for i in range(300))
    rows, warnings = parse_metadata_csv(("file,copy\n" + body).encode(), "m.csv", IngestLimits(max_csv_rows=100))
    assert len(rows) == 100 and "more than 100 rows" in warnings[0].message


def test_long_cells_are_cut() -> None:
    rows, warnings = _parse("file,copy\na.png," + "w" * 50_000 + "\n")
    assert len(rows[0].fields["copy"]) == 10_000 and "50,000 characters" in warnings[0].message
