"""Deterministic generator of a realistic sample ad library.

Writes template-family image ads (each family: concepts x variants), short paced videos, a
metadata.csv with copy and performance, and a ground_truth.json that tests and benchmarks score
against. Over four months, ads run 2-6 weeks (many across a month boundary), concepts are re-cut and
re-launched the next month, and the TREND_ROLES families grow, peak, appear, disappear and split. Photos come only from datasets bundled with installed packages (skimage.data, sklearn
sample images) and text uses Pillow's bundled scalable font, so the output is identical on every
machine for a given seed.

The package: `data` (the tables), `render` (drawing one image ad), `plan` (concepts, variants, dates,
performance, rows), `generate` (writing files, `generate_sample`).
"""
from __future__ import annotations

from .generate import _video_specs, _write_video, generate_sample, main

__all__ = ["generate_sample", "main"]
