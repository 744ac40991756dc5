"""Hard limits applied while ingesting untrusted uploads (zips, folders, media)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IngestLimits:
    max_files: int = 20_000            # entries in one upload
    max_total_bytes: int = 2 * 1024**3 # total uncompressed
    max_file_bytes: int = 300 * 1024**2
    max_ratio: float = 200.0           # uncompressed/compressed per entry (zip bomb)
    max_image_pixels: int = 90_000_000 # PIL decompression-bomb guard
    max_video_seconds: float = 600.0
    upload_mb: int = 2048              # the app's upload limit, = max_total_bytes in MiB (the app's .streamlit/config.toml must match)


DEFAULT_LIMITS = IngestLimits()
