"""Vendored front-end files are the pinned versions, byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"


def test_vendored_files_match_their_recorded_checksums() -> None:
    lines = (VENDOR / "SHA256SUMS").read_text().split("\n")
    recorded = dict(reversed(line.split()) for line in lines if line.strip())
    on_disk = {p.name for p in VENDOR.glob("*.js")}
    assert set(recorded) == on_disk
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "htmx-2.0.11.min.js" in on_disk and "htmx-ext-ws-2.0.4.min.js" in on_disk
