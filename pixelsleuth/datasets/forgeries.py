"""Labelled manipulations made from real photos: splices with their ground-truth masks.

Used to measure localisation (tests) and to give the verdict model examples of edited photos
(`pixelsleuth fit-verdict`), since real forgeries with masks are scarce.

A rectangle from one photo (the donor, saved as JPEG at quality q_donor first) is pasted into
another (the host) and the composite is saved at quality q_final. Half of the pastes keep the
donor's 8×8 JPEG grid aligned with the composite's, half do not.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class Splice:
    data: bytes  # the composite JPEG
    mask: np.ndarray  # bool H×W, True = pasted
    q_donor: int
    q_final: int
    aligned: bool
    host: str
    donor: str


def _load(path: Path, max_side: int) -> Image.Image | None:
    try:
        im = Image.open(path)
        im.load()
    except OSError:
        return None
    im = im.convert("RGB")
    im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return im if min(im.size) >= 256 else None


def make_splices(
    photos: list[Path], n: int = 50, seed: int = 0, max_side: int = 768
) -> list[Splice]:
    rng = np.random.default_rng(seed)
    images = [(p, im) for p in photos if (im := _load(p, max_side)) is not None]
    out = []
    while len(out) < n:
        i, j = rng.choice(len(images), 2, replace=False)
        (host_path, host), (donor_path, donor) = images[i], images[j]
        q_donor = int(rng.integers(50, 81))
        q_final = int(rng.integers(85, 96))
        buf = io.BytesIO()
        donor.save(buf, "JPEG", quality=q_donor)
        donor_px = np.asarray(Image.open(buf).convert("RGB"))
        host_px = np.array(host)
        hh, hw = host_px.shape[:2]
        dh, dw = donor_px.shape[:2]
        rh = int(rng.integers(min(hh, dh) // 5, min(hh, dh) // 3)) // 8 * 8
        rw = int(rng.integers(min(hw, dw) // 5, min(hw, dw) // 3)) // 8 * 8
        sy = int(rng.integers(0, (dh - rh) // 8)) * 8
        sx = int(rng.integers(0, (dw - rw) // 8)) * 8
        aligned = len(out) % 2 == 0
        if aligned:
            ty = int(rng.integers(0, (hh - rh) // 8)) * 8
            tx = int(rng.integers(0, (hw - rw) // 8)) * 8
        else:
            ty = int(rng.integers(0, hh - rh))
            tx = int(rng.integers(0, hw - rw))
            if ty % 8 == 0 and tx % 8 == 0:
                tx = min(tx + 3, hw - rw)
        host_px[ty : ty + rh, tx : tx + rw] = donor_px[sy : sy + rh, sx : sx + rw]
        mask = np.zeros((hh, hw), bool)
        mask[ty : ty + rh, tx : tx + rw] = True
        final = io.BytesIO()
        Image.fromarray(host_px).save(final, "JPEG", quality=q_final)
        out.append(
            Splice(
                final.getvalue(), mask, q_donor, q_final, aligned, host_path.name, donor_path.name
            )
        )
    return out
