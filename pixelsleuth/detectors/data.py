"""Training data for the detector: samples from a corpus manifest or an imagefolder dataset,
and augmentation that takes format and size cues away.

Both classes go through the same random JPEG re-encoding, rescaling, blur, crops and flips, so
that "PNG vs JPEG" or "large vs small" cannot separate them and only generator traces can.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from pixelsleuth.imageio import jpeg_roundtrip

MIN_SIDE = 64  # smaller images (metadata carriers, thumbnails) carry no usable traces


# Corpus files are split by a hash of their file name, the same way in every command: the
# detector trains on "train", the verdict model is fitted on "calibration", and reported
# numbers come from "test", which neither was fitted on.
CORPUS_SPLITS = {"train": (0.0, 0.6), "calibration": (0.6, 0.8), "test": (0.8, 1.0)}


def corpus_split(path: str | Path) -> str:
    """ "train", "calibration" or "test" for a corpus file, from its file name."""
    digest = hashlib.sha256(Path(path).name.encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return next(name for name, (lo, hi) in CORPUS_SPLITS.items() if lo <= u < hi)


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int  # 1 = AI-generated, 0 = real
    group: str  # e.g. "ai/comfyui", "real/camera", or a generator id
    width: int = 0
    height: int = 0
    # file name of the photo this image was made from (an aligned fake and its re-encoded
    # real twin both name their source photo); "" for an original
    origin: str = ""

    @property
    def source_name(self) -> str:
        """The file name that identifies the photo behind this image: keeps an original, its
        twin and its aligned fake on the same side of a split."""
        return self.origin or self.path.name


def from_manifest(manifest: str | Path, split: str | None = None) -> list[Sample]:
    """AI and real images of a corpus manifest.csv (columns path, label, group, width,
    height), relative to the manifest's folder; only those of ``split`` (see corpus_split)
    when given. Forged, metadata and broken files are left out, and so are images under
    MIN_SIDE pixels."""
    manifest = Path(manifest)
    root = manifest.parent
    out = []
    with manifest.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["label"] not in ("ai", "real"):
                continue
            w, h = int(row["width"] or 0), int(row["height"] or 0)
            if min(w, h) < MIN_SIDE:
                continue
            if split is not None and corpus_split(row["path"]) != split:
                continue
            out.append(
                Sample(
                    root / row["path"],
                    int(row["label"] == "ai"),
                    f"{row['label']}/{row['group']}",
                    w,
                    h,
                )
            )
    return out


def from_imagefolder(folder: str | Path) -> list[Sample]:
    """Images of an imagefolder dataset (all splits); the group is the generator's model id
    for fakes and "real/<source>" for real images."""
    folder = Path(folder)
    out = []
    for manifest in sorted(folder.glob("*/metadata.jsonl")):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            path = manifest.parent / row["file_name"]
            if not path.is_file() or row.get("label") not in ("ai", "real"):
                continue
            if row["label"] == "ai":
                gen = row.get("generator") or {}
                group = f"ai/{row.get('source', 'fake')}:{Path(str(gen.get('model_id', '?'))).name}"
            else:
                group = f"real/{row.get('source', 'real')}"
            w, h = int(row.get("width") or 0), int(row.get("height") or 0)
            if w and h and min(w, h) < MIN_SIDE:
                continue
            source = row.get("original_path") or (row.get("extra") or {}).get("source_image")
            origin = Path(str(source)).name if source else ""
            out.append(Sample(path, int(row["label"] == "ai"), group, w, h, origin))
    return out


def load_samples(source: str | Path, split: str | None = None) -> list[Sample]:
    """A manifest.csv file or an imagefolder folder; ``split`` selects a corpus split of a
    manifest (an imagefolder dataset is used whole)."""
    source = Path(source)
    if source.is_file() and source.suffix == ".csv":
        return from_manifest(source, split)
    if source.is_dir() and any(source.glob("*/metadata.jsonl")):
        return from_imagefolder(source)
    if source.is_dir() and (source / "manifest.csv").is_file():
        return from_manifest(source / "manifest.csv", split)
    raise FileNotFoundError(f"{source} is neither a manifest.csv nor an imagefolder dataset")


def load_patches(sample: Sample, size: int, count: int, rng: random.Random) -> list[np.ndarray]:
    """``count`` native-resolution patches of ``size``² (uint8 RGB) from one image, chosen at
    random; decoded once so that epochs need not decode large photos again."""
    with Image.open(sample.path) as im:
        im = im.convert("RGB")
        arr = np.asarray(im)
    h, w = arr.shape[:2]
    if h < size or w < size:
        arr = np.pad(arr, ((0, max(0, size - h)), (0, max(0, size - w)), (0, 0)), mode="reflect")
        h, w = arr.shape[:2]
    out = []
    for _ in range(count):
        y, x = rng.randrange(0, h - size + 1), rng.randrange(0, w - size + 1)
        out.append(np.ascontiguousarray(arr[y : y + size, x : x + size]))
    return out


@dataclass
class Augment:
    """Random processing applied identically (in distribution) to both classes."""

    crop: int = 256
    p_jpeg: float = 0.8
    quality: tuple[int, int] = (60, 100)
    p_rescale: float = 0.3
    scale: tuple[float, float] = (0.5, 1.0)
    p_blur: float = 0.1

    def __call__(self, patch: np.ndarray, rng: random.Random) -> np.ndarray:
        im = Image.fromarray(patch)
        if rng.random() < self.p_rescale:
            s = rng.uniform(*self.scale)
            size = (max(self.crop, round(im.width * s)), max(self.crop, round(im.height * s)))
            im = im.resize(
                size,
                rng.choice(
                    [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS]
                ),
            )
        if rng.random() < self.p_blur:
            im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.0)))
        if rng.random() < self.p_jpeg:
            im = jpeg_roundtrip(im, rng.randint(*self.quality))
        arr = np.asarray(im)
        h, w = arr.shape[:2]
        y = rng.randrange(0, (h - self.crop) // 2 + 1) * 2
        x = rng.randrange(0, (w - self.crop) // 2 + 1) * 2
        arr = arr[y : y + self.crop, x : x + self.crop]
        if rng.random() < 0.5:
            arr = arr[:, ::-1]
        return np.ascontiguousarray(arr)


class PatchDataset(torch.utils.data.Dataset):
    """Augmented crops from in-memory patches; labels are floats for BCE."""

    def __init__(
        self, patches: list[tuple[np.ndarray, int]], augment: Augment | None, seed: int = 0
    ) -> None:
        self.patches = patches
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.patches)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        patch, label = self.patches[i]
        if self.augment is not None:
            patch = self.augment(patch, random.Random(hash((self.seed, self.epoch, i))))
        x = torch.from_numpy(np.array(patch)).permute(2, 0, 1).float().div_(255.0)
        return x, torch.tensor(float(label))
