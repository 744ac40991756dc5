"""open_source: every hostile entry is skipped with a reason that names it; good ones all come back."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from core.limits import IngestLimits
from core.sources import MEDIA_KINDS, SourceError, open_source
from badinput import (CAFE, DUPLICATES_ZIP, EXPECTED_FOLDER, EXPECTED_ZIP, SOURCE_REASONS, build_bad_folder,
                      build_bad_zip, build_lying_zip, build_many_files_zip, build_unreadable_zips, image_bytes)


def _split(expected: dict[str, str]) -> tuple[list[str], list[tuple[str, str]]]:
    """(rel_paths open_source should return, (rel_path, reason) pairs it should skip)."""
    good = sorted(name for name, outcome in expected.items() if outcome not in SOURCE_REASONS)
    skips = sorted((name, outcome) for name, outcome in expected.items() if outcome in SOURCE_REASONS)
    return good, skips


ZIP_GOOD, ZIP_SKIPS = _split(EXPECTED_ZIP)
FOLDER_GOOD, FOLDER_SKIPS = _split(EXPECTED_FOLDER)


@pytest.fixture(scope="module")
def bad_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bad_zip(tmp_path_factory.mktemp("zip"))


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bad_folder(tmp_path_factory.mktemp("folder"))


@pytest.fixture(scope="module")
def zip_result(bad_zip: Path):
    return open_source(bad_zip)


@pytest.fixture(scope="module")
def folder_result(bad_folder: Path):
    return open_source(bad_folder)


def _assert_skipped(result, rel_path: str, reason: str) -> None:
    _, skipped = result
    matches = [s for s in skipped if s.rel_path == rel_path and s.reason == reason]
    assert matches, f"{rel_path!r} not skipped as {reason}: {[(s.rel_path, s.reason) for s in skipped]}"
    assert f"'{rel_path}'" in matches[0].message


@pytest.mark.parametrize("rel_path, reason", ZIP_SKIPS)
def test_zip_entry_skipped_with_reason(zip_result, rel_path: str, reason: str) -> None:
    _assert_skipped(zip_result, rel_path, reason)


@pytest.mark.parametrize("rel_path", sorted(DUPLICATES_ZIP))
def test_zip_duplicate_keeps_first(zip_result, rel_path: str) -> None:
    _assert_skipped(zip_result, rel_path, "duplicate_name")
    kept = {e.rel_path: e for e in zip_result[0]}[rel_path]
    assert kept.read_bytes() == image_bytes()[rel_path]  # the later copy holds good.jpg's bytes


@pytest.mark.parametrize("rel_path", ZIP_GOOD)
def test_zip_good_entry_returned(zip_result, rel_path: str) -> None:
    entry = {e.rel_path: e for e in zip_result[0]}[rel_path]
    assert entry.kind == MEDIA_KINDS.get(Path(rel_path).suffix.lower(), "csv")


def test_zip_returns_exactly_the_expected_entries(zip_result) -> None:
    entries, skipped = zip_result
    assert [e.rel_path for e in entries] == ZIP_GOOD  # also: sorted by rel_path
    expected_skips = sorted(ZIP_SKIPS + [(name, "duplicate_name") for name in DUPLICATES_ZIP])
    assert sorted((s.rel_path, s.reason) for s in skipped) == expected_skips


def test_zip_names_are_nfc_and_legacy_encodings_decoded(zip_result) -> None:
    names = {e.rel_path for e in zip_result[0]}
    assert {"résumé-cp437.png", "naïve-utf8.png", CAFE, "日本語.png"} <= names


def test_zip_read_bytes_matches_content(zip_result) -> None:
    entries = {e.rel_path: e for e in zip_result[0]}
    assert entries["good.png"].read_bytes() == image_bytes()["good.png"]
    assert entries["sub/good.webp"].size == len(image_bytes()["sub/good.webp"])


@pytest.mark.parametrize("rel_path, reason", FOLDER_SKIPS)
def test_folder_entry_skipped_with_reason(folder_result, rel_path: str, reason: str) -> None:
    _assert_skipped(folder_result, rel_path, reason)


@pytest.mark.parametrize("rel_path", FOLDER_GOOD)
def test_folder_good_entry_returned(folder_result, rel_path: str) -> None:
    assert rel_path in {e.rel_path for e in folder_result[0]}


def test_folder_returns_exactly_the_expected_entries(folder_result, bad_folder: Path) -> None:
    entries, skipped = folder_result
    assert [e.rel_path for e in entries] == FOLDER_GOOD
    assert sorted((s.rel_path, s.reason) for s in skipped) == FOLDER_SKIPS
    assert {e.rel_path: e for e in entries}["good.png"].read_bytes() == (bad_folder / "good.png").read_bytes()


def test_open_source_is_deterministic(bad_zip: Path, bad_folder: Path) -> None:
    for source in (bad_zip, bad_folder):
        first, second = open_source(source), open_source(source)
        assert [e.rel_path for e in first[0]] == [e.rel_path for e in second[0]]
        assert first[1] == second[1]


def test_open_source_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = [build_bad_zip(tmp_path), build_bad_folder(tmp_path)]
    for method in ("extract", "extractall"):
        monkeypatch.setattr(zipfile.ZipFile, method, lambda *a, **k: pytest.fail("zip extracted"))
    before = _snapshot(tmp_path)
    cwd_before = sorted(os.listdir())
    for source in sources:
        entries, _ = open_source(source)
        for entry in entries:
            entry.read_bytes()
    assert _snapshot(tmp_path) == before
    assert sorted(os.listdir()) == cwd_before


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


def test_too_many_files_skips_the_extras(tmp_path: Path) -> None:
    entries, skipped = open_source(build_many_files_zip(tmp_path, 12), IngestLimits(max_files=10))
    assert [e.rel_path for e in entries] == [f"img_{i:03d}.png" for i in range(10)]
    assert [(s.rel_path, s.reason) for s in skipped] == [("img_010.png", "too_many_files"),
                                                         ("img_011.png", "too_many_files")]
    assert "'img_010.png'" in skipped[0].message and "10" in skipped[0].message


def test_zip_declaring_far_too_many_entries_is_refused_whole(tmp_path: Path) -> None:
    zip_path = build_many_files_zip(tmp_path, 120)
    entries, skipped = open_source(zip_path, IngestLimits(max_files=10))
    assert entries == []
    assert [(s.rel_path, s.reason) for s in skipped] == [("many.zip", "too_many_files")]


def test_too_many_files_in_a_folder(bad_folder: Path) -> None:
    entries, skipped = open_source(bad_folder, IngestLimits(max_files=3))
    assert len(entries) == 3
    assert sum(s.reason == "too_many_files" for s in skipped) == len(FOLDER_GOOD) - 3


def test_total_size_exceeded(tmp_path: Path) -> None:
    png_size = len(image_bytes()["good.png"])
    limits = IngestLimits(max_total_bytes=3 * png_size)
    entries, skipped = open_source(build_many_files_zip(tmp_path, 5), limits)
    assert len(entries) == 3
    assert [s.reason for s in skipped] == ["total_size_exceeded"] * 2
    assert "'img_003.png'" in skipped[0].message


@pytest.mark.parametrize("builder", [build_bad_zip, build_bad_folder])
def test_too_large_per_file(tmp_path: Path, builder) -> None:
    entries, skipped = open_source(builder(tmp_path), IngestLimits(max_file_bytes=20_000))
    assert all(e.size <= 20_000 for e in entries)
    too_large = {s.rel_path: s.message for s in skipped if s.reason == "too_large"}
    assert "'good.mp4'" in too_large["good.mp4"]


def test_small_compressible_file_is_not_a_zip_bomb(tmp_path: Path) -> None:
    path = tmp_path / "blank.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("blank.bmp", bytes(200_000))  # ratio ~500, but far too small to hurt
    entries, skipped = open_source(path)
    assert [e.rel_path for e in entries] == ["blank.bmp"] and not skipped


def test_ratio_limit_is_configurable(bad_zip: Path) -> None:
    _, skipped = open_source(bad_zip, IngestLimits(max_ratio=5000))
    assert "zeros.bmp" not in {s.rel_path for s in skipped}


def test_unreadable_zip_is_one_skip_not_an_exception(tmp_path: Path) -> None:
    for path in build_unreadable_zips(tmp_path):
        entries, skipped = open_source(path)
        assert entries == []
        assert [(s.rel_path, s.reason) for s in skipped] == [(path.name, "unreadable_zip")]
        assert f"'{path.name}'" in skipped[0].message


def test_lying_header_fails_on_read_not_silently(tmp_path: Path) -> None:
    entries, _ = open_source(build_lying_zip(tmp_path))
    assert [(e.rel_path, e.size) for e in entries] == [("liar.png", 100)]
    with pytest.raises(SourceError) as err:
        entries[0].read_bytes()
    assert err.value.code == "unreadable_zip" and "'liar.png'" in err.value.message


def test_read_bytes_stops_at_the_cap_when_a_file_grows(tmp_path: Path) -> None:
    (tmp_path / "grow.png").write_bytes(b"x" * 100)
    entries, _ = open_source(tmp_path, IngestLimits(max_file_bytes=1000))
    (tmp_path / "grow.png").write_bytes(b"x" * 5000)
    with pytest.raises(SourceError) as err:
        entries[0].read_bytes()
    assert err.value.code == "too_large" and "'grow.png'" in err.value.message


def test_missing_source_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_source(tmp_path / "nope.zip")
