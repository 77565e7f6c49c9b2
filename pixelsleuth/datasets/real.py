"""Ingest real photos into a dataset, never touching the originals."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from pixelsleuth.datasets.generate import FORMATS, IMAGE_SUFFIXES, encode_image
from pixelsleuth.datasets.manifest import DEFAULT_FRACTIONS, ImageFolderDataset, Row, assign_split


@dataclass
class IngestSummary:
    added: int = 0
    skipped: int = 0
    rejected: list[tuple[str, str]] = None  # (path, reason)


def add_real(
    folder: str | Path,
    out: str | Path,
    format: str = "keep",
    quality: int = 95,
    max_side: int | None = None,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    progress: bool = True,
) -> IngestSummary:
    """Add every readable image under ``folder`` to the dataset at ``out`` as label "real".

    ``format="keep"`` copies the file's bytes unchanged; ``png``/``jpeg``/``webp`` re-encodes
    (without metadata), e.g. to match the format of generated fakes. Files are read, never
    written; the split follows the content hash, so a re-run adds only what is new.
    """
    folder, dataset = Path(folder), ImageFolderDataset(out)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    if format != "keep" and format.lower() not in FORMATS:
        raise ValueError(f"unknown format {format!r}; use keep, png, jpeg or webp")
    summary = IngestSummary(rejected=[])
    existing = dataset.existing()
    paths = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    for path in tqdm(paths, desc="add-real", unit="img", disable=not progress):
        try:
            original = data = path.read_bytes()
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                width, height, src_format = im.width, im.height, im.format
                if format != "keep":
                    im = im.convert("RGB")
                    if max_side and max(im.size) > max_side:
                        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                    data = encode_image(im, format, quality)
                    width, height, src_format = im.width, im.height, FORMATS[format.lower()]
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            summary.rejected.append((str(path), f"{type(exc).__name__}: {exc}"))
            continue
        digest = hashlib.sha256(original).hexdigest()[:12]
        ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}.get(
            src_format or "", path.suffix.lstrip(".").lower()
        )
        name = f"real-{re.sub(r'[^A-Za-z0-9]+', '-', path.stem)[:40]}-{digest}.{ext}"
        split = assign_split(digest, fractions)
        if f"{split}/{name}" in existing:
            summary.skipped += 1
            continue
        (dataset.split_dir(split) / name).write_bytes(data)
        dataset.append(
            split,
            Row(
                file_name=name,
                label="real",
                source="real",
                width=width,
                height=height,
                format=src_format,
                original_path=str(path),
            ),
        )
        summary.added += 1
    return summary
