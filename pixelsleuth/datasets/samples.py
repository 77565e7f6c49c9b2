"""The data layer every training, evaluation and fitting command shares: one sample type, one
reader of corpus manifests (the test corpus, the training pool) and imagefolder datasets, and
one hash split.

Files are split by a hash of their file name, the same way in every command: the detector
trains on "train", the verdict model is fitted on "calibration", and reported numbers come from
"test", which neither was fitted on. The split of a pool or corpus file is
``corpus_split(path relative to its root)``; only the name counts, so an aligned fake that keeps
its photo's file name lands in its photo's split.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

MIN_SIDE = 64  # smaller images (metadata carriers, thumbnails) carry no usable traces

CORPUS_SPLITS = {"train": (0.0, 0.6), "calibration": (0.6, 0.8), "test": (0.8, 1.0)}

# The corpus's generator groups by family, for leave-one-family-out evaluation; a pool's
# manifest names each row's family itself.
CORPUS_FAMILIES = {
    "sd15-grid": "sd1.x",
    "gan-pairs": "gan",
    "aeroblade": "mixed",
    "comfyui": "mixed",
    "invokeai": "mixed",
    "ml72": "mixed",
    "generator-metadata": "mixed",
}


def hash_unit(key: str) -> float:
    """A deterministic number in [0, 1) from ``key``: the one hash behind every split."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def corpus_split(path: str | Path) -> str:
    """ "train", "calibration" or "test" for a corpus or pool file, from its file name."""
    u = hash_unit(Path(path).name)
    return next(name for name, (lo, hi) in CORPUS_SPLITS.items() if lo <= u < hi)


split_of = corpus_split


@dataclass(frozen=True)
class Sample:
    """One labelled image on disk."""

    path: Path
    label: int  # 1 = AI-generated, 0 = real
    group: str  # e.g. "ai/comfyui", "real/camera", "ai/flux.1/cheatsheet-flux"
    width: int = 0
    height: int = 0
    # file name of the photo this image was made from (an aligned fake and its re-encoded
    # real twin both name their source photo); "" for an original
    origin: str = ""
    # generator family of a fake ("flux.1", "sdxl", "sd1.x", ...); for a real image the kind
    # of photo ("phone", "camera", "wallpaper", ...); "" when unknown
    family: str = ""

    @property
    def source_name(self) -> str:
        """The file name that identifies the photo behind this image: keeps an original, its
        twin and its aligned fake on the same side of a split."""
        return self.origin or self.path.name


def from_manifest(manifest: str | Path, split: str | None = None) -> list[Sample]:
    """AI and real images of a corpus or pool manifest.csv (columns path, label, group, width,
    height; a pool's also family), relative to the manifest's folder; only those of ``split``
    (see corpus_split) when given. Forged, metadata and broken files are left out, and so are
    images under MIN_SIDE pixels."""
    manifest = Path(manifest)
    root = manifest.parent
    out = []
    with manifest.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["label"] not in ("ai", "real"):
                continue
            w, h = int(row["width"] or 0), int(row["height"] or 0)
            if min(w, h) < MIN_SIDE:
                continue
            if split is not None and corpus_split(row["path"]) != split:
                continue
            family = row.get("family") or (
                CORPUS_FAMILIES.get(row["group"], "") if row["label"] == "ai" else row["group"]
            )
            out.append(
                Sample(
                    root / row["path"],
                    int(row["label"] == "ai"),
                    f"{row['label']}/{row['group']}",
                    w,
                    h,
                    family=family,
                )
            )
    return out


def from_imagefolder(folder: str | Path) -> list[Sample]:
    """Images of an imagefolder dataset (all splits); the group is the generator's model id
    for fakes and "real/<source>" for real images."""
    from pixelsleuth.datasets.manifest import ImageFolderDataset

    folder = Path(folder)
    out = []
    for split, row in ImageFolderDataset(folder).rows():
        path = folder / split / row.file_name
        if row.label not in ("ai", "real"):
            continue
        if row.label == "ai":
            model = Path(str((row.generator or {}).get("model_id", "?"))).name
            group = f"ai/{row.source or 'fake'}:{model}"
            family = "aligned-" + model if row.source == "aligned" else model
        else:
            group, family = f"real/{row.source or 'real'}", row.source or "real"
        w, h = int(row.width or 0), int(row.height or 0)
        if w and h and min(w, h) < MIN_SIDE:
            continue
        source = row.original_path or (row.extra or {}).get("source_image")
        origin = Path(str(source)).name if source else ""
        out.append(Sample(path, int(row.label == "ai"), group, w, h, origin, family))
    return out


def load_samples(source: str | Path, split: str | None = None) -> list[Sample]:
    """A manifest.csv file or an imagefolder folder; ``split`` selects a corpus split of a
    manifest (an imagefolder dataset is used whole)."""
    source = Path(source)
    if source.is_file() and source.suffix == ".csv":
        return from_manifest(source, split)
    if source.is_dir() and (source / "manifest.csv").is_file():
        return from_manifest(source / "manifest.csv", split)
    if source.is_dir() and any(source.glob("*/metadata.jsonl")):
        return from_imagefolder(source)
    raise FileNotFoundError(f"{source} is neither a manifest.csv nor an imagefolder dataset")
