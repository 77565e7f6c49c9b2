"""Datasets on disk in the Hugging Face ``imagefolder`` layout.

    DATASET/train/metadata.jsonl       one JSON object per image ("file_name" first)
    DATASET/train/<files>
    DATASET/validation/...   DATASET/test/...

``datasets.load_dataset("imagefolder", data_dir=DATASET)`` reads it for users who have the
`datasets` library. Rows are appended and flushed one at a time, so an interrupted run loses
nothing it finished, and a re-run can see what already exists.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pixelsleuth.datasets.samples import hash_unit

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass
class Row:
    """One image of a dataset. ``file_name`` is relative to its split folder."""

    file_name: str
    label: str  # "real" or "ai"
    source: str  # "camera", "text-to-image", "image-to-image", "aligned", ...
    generator: dict[str, Any] | None = None  # model id, pipeline class, scheduler
    steps: int | None = None
    guidance: float | None = None
    strength: float | None = None
    seed: int | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    real_twin: str | None = None  # for aligned fakes: the real image, relative to the dataset
    width: int | None = None
    height: int | None = None
    format: str | None = None
    provenance_metadata: bool = False
    original_path: str | None = None  # for ingested real images
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None and v != {}}
        return json.dumps(data, ensure_ascii=False, sort_keys=False)


def assign_split(
    key: str,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    group: str | None = None,
    holdout: dict[str, str] | None = None,
) -> str:
    """Deterministic split for ``key`` (a file's identity): by hash, so that reruns and
    resumes agree. ``holdout`` maps a group (a generator's model id, say) to the split that
    receives all of it, so that whole generators can be held out."""
    if holdout and group in holdout:
        return holdout[group]
    total = float(sum(fractions))
    h = hash_unit(key)
    edge = 0.0
    for split, fraction in zip(SPLITS, fractions, strict=True):
        edge += fraction / total
        if h < edge:
            return split
    return SPLITS[-1]


class ImageFolderDataset:
    """A dataset folder: append rows, list what exists, read the manifests back."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def split_dir(self, split: str) -> Path:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        path = self.root / split
        path.mkdir(parents=True, exist_ok=True)
        return path

    def rows(self, split: str | None = None) -> Iterator[tuple[str, Row]]:
        """(split, row) for every row on disk, skipping rows whose file is missing."""
        for s in [split] if split else SPLITS:
            manifest = self.root / s / "metadata.jsonl"
            if not manifest.is_file():
                continue
            latest: dict[str, Row] = {}  # a regenerated file's newest row wins
            known = set(Row.__dataclass_fields__)
            for line in manifest.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash
                name = data.get("file_name")
                if not isinstance(data.get("label"), str):
                    continue  # not an image row
                data.setdefault("source", "")
                if isinstance(name, str) and (self.root / s / name).is_file():
                    latest.pop(name, None)
                    latest[name] = Row(**{k: v for k, v in data.items() if k in known})
            for row in latest.values():
                yield s, row

    def existing(self) -> set[str]:
        """Paths (split/file_name) of rows whose file exists: what a resumed run may skip."""
        return {f"{s}/{row.file_name}" for s, row in self.rows()}

    def append(self, split: str, row: Row) -> None:
        """Record a row (its file must already be written); flushed at once."""
        manifest = self.split_dir(split) / "metadata.jsonl"
        with manifest.open("a", encoding="utf-8") as fh:
            fh.write(row.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def compact(self) -> None:
        """Rewrite each manifest with one row per existing file (drops rows of deleted files
        and duplicates left by interrupted runs)."""
        for split in SPLITS:
            manifest = self.root / split / "metadata.jsonl"
            if not manifest.is_file():
                continue
            rows = [row for _, row in self.rows(split)]
            tmp = manifest.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(r.to_json() + "\n" for r in rows), encoding="utf-8")
            tmp.replace(manifest)
