"""Shared fixtures. The corpus lives beside the project (../shared/corpus) and is never copied."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("PIXELSLEUTH_CORPUS", ROOT.parent / "shared" / "corpus"))


def corpus_dir(*parts: str) -> Path:  # no parts: the corpus itself
    path = CORPUS.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"corpus folder {path} is absent (expected at ../shared/corpus)")
    return path


def camera_photo(name: str) -> Path:
    """One of the corpus's metadata-extractor camera JPEGs, by its camera name."""
    return corpus_dir("real", "camera") / f"drewnoakes+metadata-extractor-images__jpg__{name}.jpg"


def corpus_manifest() -> list[dict[str, str]]:
    manifest = CORPUS / "manifest.csv"
    if not manifest.is_file():
        pytest.skip(f"corpus manifest {manifest} is absent")
    with manifest.open(newline="") as fh:
        return list(csv.DictReader(fh))


def photo_like(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth, textured RGB array (uint8) that compresses like a photo, not like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            128 + 60 * np.sin(x / 9.0 + seed),
            128 + 60 * np.cos(y / 7.0),
            128 + 40 * np.sin((x + y) / 13.0),
        ],
        axis=-1,
    )
    base += rng.normal(0, 6, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def jpeg_bytes(arr: np.ndarray, quality: int = 90, **save_kwargs: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality, **save_kwargs)
    return buf.getvalue()


def file_state(path: Path) -> tuple[str, int]:
    """sha256 and mtime (ns) of a file, to prove that nothing wrote to it."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns
