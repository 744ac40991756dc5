"""One metadata cell's value: numbers and dates in the spellings spreadsheets write, and the checks that keep
implausible values (negative counts, clicks over impressions, Excel day numbers, ...) out of totals."""
from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta

MISSING = {"", "na", "n/a", "nan", "none", "null", "-", "--", "\u2013", "\u2014"}
_CURRENCY = re.compile(r"[$€£¥₹\s\u00a0\u202f]|\b(?:usd|eur|gbp)\b", re.IGNORECASE)
_THOUSANDS_COMMA = re.compile(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?")
_THOUSANDS_DOT = re.compile(r"[-+]?\d{1,3}(\.\d{3}){2,}")
_TIME_SUFFIX = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([AaPp][Mm])?\s*(Z|UTC|[+-]\d{2}:?\d{2})?$")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d.%m.%Y", "%Y%m%d",
                 "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y")
_SERIAL_DAY = re.compile(r"\d{5}(?:\.\d+)?")


def parse_number(text: str) -> float | None:
    """'1,234' -> 1234.0, '$12.50' -> 12.5, '(5)' -> -5.0, '12%' -> 0.12, '1.234,5' -> 1234.5."""
    if text.lower() in MISSING:
        return None
    s = _CURRENCY.sub("", text).replace("\u2212", "-")  # typographic minus from spreadsheets
    negative = s.startswith("(") and s.endswith(")")
    percent = s.rstrip(")").endswith("%")
    s = s.strip("()").rstrip("%")
    if "," in s and "." in s:  # whichever comes last is the decimal separator
        s = s.replace(".", "").replace(",", ".") if s.rfind(",") > s.rfind(".") else s.replace(",", "")
    elif "," in s:
        s = s.replace(",", "") if _THOUSANDS_COMMA.fullmatch(s) else s.replace(",", ".")
    elif _THOUSANDS_DOT.fullmatch(s):
        s = s.replace(".", "")
    value = float(s)  # raises ValueError on anything else
    if not math.isfinite(value):
        raise ValueError(text)
    value = -value if negative else value
    return value / 100 if percent else value


def parse_date(text: str) -> str | None:
    """ISO date of many spellings; ambiguous 05/03/2017 reads US-style (May 3)."""
    if text.lower() in MISSING:
        return None
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        pass
    day = _TIME_SUFFIX.sub("", text).strip()
    if day.isdigit() and len(day) == 5:  # an Excel serial day number
        return (date(1899, 12, 30) + timedelta(days=int(day))).isoformat()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(day, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(text)


_ABSURD = 1e12          # no ad spends, shows or earns this much
_OLDEST_DATE = "1995-01-01"


def flag_implausible(row, names: dict[str, str], log) -> None:
    """Leave implausible values out (None) with a warning; the cell text stays as an attribute.

    names: field → the CSV's own column name (for the message)."""
    f = row.fields
    problems: dict[str, str] = {}
    for key in ("spend", "impressions", "clicks", "conversions", "revenue", "ctr"):
        v = f.get(key)
        if v is None:
            continue
        if v < 0 and key != "revenue":  # refunds make negative revenue; nothing makes negative spend or counts
            problems[key] = f"is negative ({row.raw.get(key)})"
        elif abs(v) > _ABSURD:
            problems[key] = f"is implausibly large ({row.raw.get(key)})"
    if f.get("ctr") is not None and "ctr" not in problems and f["ctr"] > 1:
        problems["ctr"] = f"is over 100% ({row.raw.get('ctr')})"
    clicks, impressions = f.get("clicks"), f.get("impressions")
    if clicks is not None and impressions is not None and not {"clicks", "impressions"} & set(problems) \
            and clicks > impressions:
        problems["clicks"] = f"({row.raw.get('clicks')}) is more than the impressions ({row.raw.get('impressions')})"
    for key in ("date", "end_date"):
        raw = row.raw.get(key, "")
        if f.get(key) is None:
            continue
        if _SERIAL_DAY.fullmatch(raw):
            problems[key] = f"'{raw}' looks like an Excel day number ({f[key]}); format the column as dates"
        elif f[key] < _OLDEST_DATE or f[key] > _latest_date():
            problems[key] = f"'{raw}' is out of range ({f[key]})"
    if f.get("date") and f.get("end_date") and "date" not in problems and "end_date" not in problems \
            and f["end_date"] < f["date"]:
        problems["end_date"] = f"({f['end_date']}) is before the start date ({f['date']})"
    for key, why in problems.items():
        column = names.get(key, key)
        kept = f"{column} (unconfirmed)"
        row.attributes[kept] = row.raw.get(key, "")
        f[key] = None
        log.add(row.row_number, column, f"{column} {why}; left out of totals until corrected "
                                        f"(the cell is kept as '{kept}').")


def _latest_date() -> str:
    return (date.today() + timedelta(days=3660)).isoformat()
