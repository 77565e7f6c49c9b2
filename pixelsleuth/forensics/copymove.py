"""Copy-move: a part of the image copied onto another part of the same image.

Keypoints (SIFT) are matched against the image itself (g2NN ratio test), grouped by a
geometric transform (RANSAC, similarity), and every candidate is checked densely: a real copy
is the same pixels, so the image warped by the transform correlates almost perfectly with
itself over the copied region (zero-normalised cross-correlation close to 1), whereas two
similar but distinct objects (a row of identical-looking bottles) do not. Flat regions that
yield no keypoints are covered by a block-matching fallback with the same check.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.maps import limit_size
from pixelsleuth.imageio import LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding, Heatmap

MAX_SIDE = 1600  # analyse at most this long a side (copies stay copies when downscaled)
MIN_SHIFT = 24  # pixels: matches closer than this are the same object, not a copy
RATIO = 0.6  # g2NN: accept the k-th neighbour if d_k / d_(k+1) < RATIO
MIN_INLIERS = 6
ZNCC_WINDOW = 9
ZNCC_MIN = 0.95  # a copy correlates with its source nearly perfectly; look-alikes do not
# A region whose mean ZNCC reaches EXACT_ZNCC is the same pixels. On synthetic copies made from
# real/camera photos, lossless copies score ≥ 0.9998 and every match found in the untouched
# photos (repeating structure, look-alikes) ≤ 0.983; copies saved as JPEG afterwards score
# 0.97–0.99 and cannot be told from repeating structure by this test, so they are reported
# as possible copies only.
EXACT_ZNCC = 0.99
MIN_AREA_FRACTION = 0.0005  # verified area per side (of the image) for a detection
MIN_TEXTURE = 1.0  # grey levels of local std: below this even sensor noise is gone
RANSAC_SEED = 17
# Repeating texture (tiles, windows, foliage, fabric) makes many look-alike regions at different
# offsets, none larger than the rest; a copy makes one region that stands out. With at least
# REPEAT_MIN_REGIONS look-alikes and the largest under REPEAT_DOMINANCE times the next, the
# analyzer abstains. Chosen a priori and checked on the corpus's train/calibration camera
# photos (about a third abstain; as-is and re-saved at q85) and its copy-move forgeries
# re-saved at q85 (7 of 9 copies still found).
REPEAT_MIN_REGIONS = 3
REPEAT_DOMINANCE = 2.0


@dataclass
class CopyRegion:
    """One detected copy: the transform source→target, its inliers and verified area."""

    transform: np.ndarray  # 2×3 affine, source → target (analysis scale)
    inliers: int
    area_fraction: float
    method: str  # "keypoints" or "blocks"
    mean_zncc: float

    @property
    def exact(self) -> bool:
        """Pixel-for-pixel the same: a copy, not repeating structure or a look-alike."""
        return self.mean_zncc >= EXACT_ZNCC


def detect_copy_move(
    gray: np.ndarray, min_area_fraction: float = MIN_AREA_FRACTION, zncc_min: float = ZNCC_MIN
) -> tuple[np.ndarray, list[CopyRegion], dict[str, Any]]:
    """Find copy-moved regions. ``gray``: uint8 H×W. ``min_area_fraction`` (of the image, per
    side) and ``zncc_min`` (-1–1, how alike a copy must be) set the sensitivity; the analyzer
    uses the calibrated defaults, the app lets a user explore others.

    Returns a bool mask (analysis scale, True = source or target of a copy), the regions found,
    and statistics.
    """
    stats: dict[str, Any] = {}
    mask = np.zeros(gray.shape, bool)
    regions: list[CopyRegion] = []
    pairs = _keypoint_pairs(gray, stats)
    verify = _Verifier(gray, zncc_min)
    for transform, inliers in _transforms(pairs, stats):
        region_mask, zncc = verify(transform)
        area = float(region_mask.mean()) / 2
        if area >= min_area_fraction:
            mask |= region_mask
            regions.append(CopyRegion(transform, inliers, area, "keypoints", zncc))
    if not any(r.exact for r in regions):  # flat copies yield few keypoints: match blocks
        for shift, votes in _block_shifts(gray, stats):
            transform = np.array([[1, 0, shift[1]], [0, 1, shift[0]]], np.float64)
            region_mask, zncc = verify(transform)
            area = float(region_mask.mean()) / 2
            if area >= min_area_fraction:
                mask |= region_mask
                regions.append(CopyRegion(transform, votes, area, "blocks", zncc))
    return mask, regions, stats


def repeating_texture(regions: list[CopyRegion]) -> bool:
    """Whether ``regions`` look like repeating texture rather than one copy: several
    look-alikes, none standing out by area."""
    areas = sorted((r.area_fraction for r in regions), reverse=True)
    return len(areas) >= REPEAT_MIN_REGIONS and areas[0] < REPEAT_DOMINANCE * areas[1]


def _keypoint_pairs(gray: np.ndarray, stats: dict[str, Any]) -> np.ndarray:
    """Matched keypoint pairs (N×4: x1, y1, x2, y2) within the image, ordered so that the
    first point is the upper-left one."""
    sift = cv2.SIFT_create(nfeatures=6000, contrastThreshold=0.02)
    keypoints, desc = sift.detectAndCompute(gray, None)
    stats["keypoints"] = len(keypoints)
    if desc is None or len(keypoints) < 10:
        return np.zeros((0, 4), np.float32)
    k = min(6, len(keypoints))
    neighbours, distances = _nearest(desc, k)
    points = np.array([kp.pt for kp in keypoints], np.float32)
    pairs = []
    for query, (row, dist) in enumerate(zip(neighbours.tolist(), distances.tolist(), strict=True)):
        others = [(d, j) for j, d in zip(row, dist, strict=True) if j != query]
        for (da, ja), (db, _) in itertools.pairwise(others):  # g2NN: stop at the first big gap
            if da >= RATIO * max(db, 1e-6):
                break
            p, q = points[query], points[ja]
            if np.hypot(*(p - q)) >= MIN_SHIFT:
                pairs.append((*p, *q) if tuple(p) <= tuple(q) else (*q, *p))
    unique = np.unique(np.array(pairs, np.float32).reshape(-1, 4), axis=0)
    stats["matched_pairs"] = len(unique)
    return unique


def _nearest(desc: np.ndarray, k: int, rows: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest descriptors of each descriptor (itself included), nearest first:
    (indices, L2 distances), both N×k.

    OpenCV's SIFT descriptors are whole numbers with squared norms under 2**23, so the squared
    distances ‖a‖² + ‖b‖² − 2a·b come out exact in float32 from one matrix product, as do
    their square roots: the distances of a brute-force matcher, about twice as fast. Ties are
    ordered by index. Other descriptors go to OpenCV's matcher."""
    if not (np.array_equal(desc, np.rint(desc)) and float((desc * desc).sum(1).max()) < 2**23):
        matches = cv2.BFMatcher(cv2.NORM_L2).knnMatch(desc, desc, k=k)
        return (
            np.array([[m.trainIdx for m in row] for row in matches]),
            np.array([[m.distance for m in row] for row in matches], np.float32),
        )
    squared = (desc * desc).sum(1)
    indices = np.empty((len(desc), k), np.int64)
    distances = np.empty((len(desc), k), np.float32)
    for r0 in range(0, len(desc), rows):  # a block of rows at a time: 12 MB, not N² floats
        d2 = desc[r0 : r0 + rows] @ desc.T
        d2 *= -2
        d2 += squared[r0 : r0 + rows, None]
        d2 += squared[None, :]
        near = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < len(desc) else None
        if near is None:
            near = np.broadcast_to(np.arange(len(desc)), d2.shape)
        near = np.sort(near, axis=1)  # index order first, so that ties stay in it
        near_d2 = np.take_along_axis(d2, near, 1)
        order = np.argsort(near_d2, axis=1, kind="stable")
        indices[r0 : r0 + rows] = np.take_along_axis(near, order, 1)
        distances[r0 : r0 + rows] = np.sqrt(np.maximum(np.take_along_axis(near_d2, order, 1), 0))
    return indices, distances


def _transforms(pairs: np.ndarray, stats: dict[str, Any], max_groups: int = 4):
    """Similarity transforms with enough RANSAC inliers, largest first."""
    # RANSAC draws from OpenCV's per-thread generator: seeded here, an image gets the same
    # findings whatever the process analysed before it (an audit worker, the app)
    cv2.setRNGSeed(RANSAC_SEED)
    remaining = pairs
    for _ in range(max_groups):
        if len(remaining) < MIN_INLIERS:
            return
        src = np.ascontiguousarray(remaining[:, :2]).reshape(-1, 1, 2)
        dst = np.ascontiguousarray(remaining[:, 2:]).reshape(-1, 1, 2)
        transform, inliers = cv2.estimateAffinePartial2D(
            src,
            dst,
            method=cv2.RANSAC,
            ransacReprojThreshold=3.0,
            maxIters=2000,
            confidence=0.995,
        )
        if transform is None or inliers is None:
            return
        inliers = inliers.ravel().astype(bool)
        if inliers.sum() < MIN_INLIERS:
            return
        stats.setdefault("groups", []).append(int(inliers.sum()))
        yield transform, int(inliers.sum())
        remaining = remaining[~inliers]


class _Verifier:
    """Dense check of candidate transforms against one image. What depends on the image alone
    (its local means and variances, where it has texture, the pixel grid) is computed once
    for every candidate."""

    def __init__(self, gray: np.ndarray, zncc_min: float = ZNCC_MIN) -> None:
        h, w = gray.shape
        self.zncc_min = zncc_min
        self.img = gray.astype(np.float32)
        self.ys, self.xs = np.mgrid[0:h, 0:w].astype(np.float32)
        self.ones = np.ones_like(self.img)
        self.mean = cv2.blur(self.img, (ZNCC_WINDOW, ZNCC_WINDOW))
        self.var = np.maximum(
            cv2.blur(self.img * self.img, (ZNCC_WINDOW, ZNCC_WINDOW)) - self.mean * self.mean, 0
        )
        # sqrt(min(va, vb)) ≥ MIN_TEXTURE ⇔ both square roots are: the image's half is fixed
        self.textured = np.sqrt(self.var) >= MIN_TEXTURE

    def __call__(self, transform: np.ndarray) -> tuple[np.ndarray, float]:
        """Where the image and its copy under ``transform`` agree (ZNCC ≥ ZNCC_MIN), on the
        target side and, through the inverse, on the source side. Returns (mask, mean ZNCC
        there)."""
        img, xs, ys = self.img, self.xs, self.ys
        h, w = img.shape
        masks, values = [], []
        for t in (transform, cv2.invertAffineTransform(transform)):
            # warpAffine pulls pixel x from inverse(t)·x: that point must be truly elsewhere,
            # since a pixel trivially matches itself
            inv = cv2.invertAffineTransform(t)
            if _is_integer_shift(inv):  # the block matcher's candidates: one shift everywhere
                if np.hypot(inv[0, 2], inv[1, 2]) < MIN_SHIFT:
                    masks.append(np.zeros((h, w), bool))  # nothing moved far enough
                    continue
                moved: np.ndarray | bool = True
            else:
                moved = (
                    np.hypot(
                        inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2] - xs,
                        inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2] - ys,
                    )
                    >= MIN_SHIFT
                )
            warped = cv2.warpAffine(img, t, (w, h), flags=cv2.INTER_LINEAR, borderValue=-1)
            valid = cv2.warpAffine(self.ones, t, (w, h), flags=cv2.INTER_NEAREST) > 0
            np.copyto(warped, img, where=~valid)  # outside the copy: the image itself
            zncc, textured = self._local_zncc(warped)
            good = valid & textured & (zncc >= self.zncc_min)
            good = _clean(good & moved)
            masks.append(good)
            if good.any():
                values.append(float(zncc[good].mean()))
        mask = masks[0] | masks[1]
        return mask, float(np.mean(values)) if values else 0.0

    def _local_zncc(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Zero-normalised cross-correlation of the image with ``b`` over ZNCC_WINDOW², and
        where both have texture (local std ≥ MIN_TEXTURE). The arithmetic of the plain
        formula, in place: three float32 buffers instead of a dozen."""
        k = (ZNCC_WINDOW, ZNCC_WINDOW)
        mb = cv2.blur(b, k)
        buf = np.multiply(b, b)
        vb = cv2.blur(buf, k)
        tmp = np.multiply(mb, mb)
        vb -= tmp
        np.maximum(vb, 0, out=vb)
        textured = self.textured & (np.sqrt(vb, out=tmp) >= MIN_TEXTURE)
        np.multiply(self.img, b, out=buf)
        cov = cv2.blur(buf, k)
        cov -= np.multiply(self.mean, mb, out=tmp)
        np.multiply(self.var, vb, out=tmp)
        np.maximum(tmp, 1e-6, out=tmp)
        cov /= np.sqrt(tmp, out=tmp)
        return cov, textured


def _is_integer_shift(t: np.ndarray) -> bool:
    """A 2×3 affine transform that moves every pixel by the same whole number of pixels."""
    return bool(np.array_equal(t[:, :2], np.eye(2)) and np.array_equal(t[:, 2], np.round(t[:, 2])))


def _clean(mask: np.ndarray) -> np.ndarray:
    """Drop specks: keep connected areas of at least a few windows."""
    if np.count_nonzero(mask) < 4 * ZNCC_WINDOW * ZNCC_WINDOW:
        return np.zeros(mask.shape, bool)  # no area could be large enough: skip the work
    m = mask.astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= 4 * ZNCC_WINDOW * ZNCC_WINDOW
    return cv2.morphologyEx(
        keep[labels].astype(np.uint8), cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8)
    ).astype(bool)


def _block_shifts(gray: np.ndarray, stats: dict[str, Any], block: int = 16, step: int = 2):
    """Shift vectors shared by many look-alike blocks, most votes first.

    Each ``block``-pixel block (every ``step`` pixels, on a copy at most 1024 px wide) is
    described by the means of its 4×4 sub-blocks; rows sorted lexicographically on coarsely
    quantized features are compared with their next three neighbours, and pairs closer than
    1.5 grey levels on average vote for their shift.
    """
    scale = min(1.0, 1024 / max(gray.shape))
    small = (
        cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if scale < 1
        else gray
    )
    img = small.astype(np.float32)
    sub = block // 4
    means = cv2.blur(img, (sub, sub), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    h, w = img.shape
    ys, xs = np.mgrid[0 : h - block + 1 : step, 0 : w - block + 1 : step]
    ys, xs = ys.ravel(), xs.ravel()
    if len(ys) < 8:
        return []
    offsets = [(dy * sub, dx * sub) for dy in range(4) for dx in range(4)]
    feats = np.stack([means[ys + dy, xs + dx] for dy, dx in offsets], axis=1)
    textured = feats.std(axis=1) >= MIN_TEXTURE
    feats, pos = feats[textured], np.stack([ys, xs], axis=1)[textured]
    if len(feats) < 8:
        return []
    exact = (
        _exact_duplicate_shifts(feats, pos, max(MIN_SHIFT, 2 * block) * scale) if scale == 1 else []
    )
    order = np.lexsort(np.round(feats / 4.0).T[::-1])
    feats, pos = feats[order], pos[order]
    shifts = []
    for k in (1, 2, 3):
        close = np.abs(feats[k:] - feats[:-k]).mean(axis=1) < 1.5
        d = pos[k:][close] - pos[:-k][close]
        shifts.append(d * np.where(d[:, :1] < 0, -1, 1))  # one orientation per pair
    shifts = np.concatenate(shifts)
    # look-alike smooth blocks pile up at short shifts; a copy moved less than two blocks is
    # also found by the keypoints
    shifts = shifts[np.hypot(shifts[:, 0], shifts[:, 1]) >= max(MIN_SHIFT, 2 * block) * scale]
    stats["block_pairs"] = len(shifts)
    stats["exact_block_shifts"] = len(exact)
    if len(shifts) == 0:
        return exact
    vectors, counts = np.unique(shifts, axis=0, return_counts=True)
    chosen: list[tuple[np.ndarray, int]] = [(v, n) for v, n in exact]
    for i in np.argsort(-counts):
        if counts[i] < 10 or len(chosen) >= 8 + len(exact):
            break
        # neighbouring vectors are the same shift seen through rounding: merge their votes
        near = np.abs(vectors - vectors[i]).max(axis=1) <= 2
        if any(np.abs(v - vectors[i]).max() <= 2 for v, _ in chosen):
            continue
        chosen.append((vectors[i], int(counts[near].sum())))
    return [((v / scale).round().astype(int), votes) for v, votes in chosen]


def _exact_duplicate_shifts(feats: np.ndarray, pos: np.ndarray, min_shift: float):
    """Shifts between blocks whose features are bit-for-bit equal (a lossless copy), with at
    least 10 blocks agreeing, most votes first (at most 4)."""
    _, inverse, counts = np.unique(feats, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    dup = counts[inverse] >= 2
    if not dup.any():
        return []
    order = np.argsort(inverse[dup], kind="stable")
    groups, where = inverse[dup][order], pos[dup][order]
    starts = np.r_[0, np.nonzero(np.diff(groups))[0] + 1]
    first = np.repeat(where[starts], np.diff(np.r_[starts, len(groups)]), axis=0)
    d = where - first
    d = d * np.where(d[:, :1] < 0, -1, 1)
    d = d[np.hypot(d[:, 0], d[:, 1]) >= min_shift]
    if len(d) == 0:
        return []
    vectors, votes = np.unique(d, axis=0, return_counts=True)
    top = [i for i in np.argsort(-votes)[:4] if votes[i] >= 10]
    return [(vectors[i], int(votes[i])) for i in top]


@register
class CopyMoveAnalyzer(Analyzer):
    name = "copy-move"
    title = "Copy-move (cloned regions)"
    explains = (
        "Finds a part of the image that was copied onto another part (to hide or duplicate "
        "something); each candidate is checked pixel by pixel, so look-alike objects are not "
        "taken for copies, but a copy that was blurred or recoloured can be missed."
    )
    order = 65

    # Over 80 lines: detection, its details and map, then one of four outcomes (no copy, exact
    # copy, repeating texture, look-alike), all worded from the regions found at the top.
    def analyze(self, image: LoadedImage) -> Finding:
        gray = np.clip(np.rint(image.gray()), 0, 255).astype(np.uint8)
        scale = min(1.0, MAX_SIDE / max(gray.shape))
        if min(gray.shape) * scale < 64:  # before resizing: a sliver would shrink to nothing
            return Finding(
                self.name, "The image is too small or too narrow to look for copied regions."
            )
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        mask, regions, stats = detect_copy_move(gray)
        details: dict[str, Any] = {
            "analysis_scale": round(scale, 4),
            **stats,
            "regions": [
                {
                    "method": r.method,
                    "inliers": r.inliers,
                    "area_fraction": round(r.area_fraction, 5),
                    "mean_zncc": round(r.mean_zncc, 4),
                    "shift_px": [
                        round(float(r.transform[0, 2]) / scale, 1),
                        round(float(r.transform[1, 2]) / scale, 1),
                    ],
                }
                for r in regions
            ],
        }
        exact = [r for r in regions if r.exact]
        details["exact_copies"] = len(exact)
        maps = [
            Heatmap(
                "copy_move",
                "Regions that are copies of each other (bright = source or copy; half-bright = a "
                "possible copy that may be repeating structure).",
                limit_size(mask.astype(np.float32) * (1.0 if exact else 0.5)),
            )
        ]
        if not regions:
            return Finding(
                self.name,
                "No region of the image is a copy of another part.",
                0.2,
                [],
                details,
                maps,
            )
        # woven or printed patterns repeat exactly: block matches at several offsets, none
        # standing out, are texture even when they are exact (a placemat in a food photo)
        repeating = repeating_texture(regions)
        lattice = repeating and all(r.method == "blocks" for r in regions)
        if exact and not lattice:
            area = sum(r.area_fraction for r in exact)
            ev = Evidence(
                "copy_move",
                f"{len(exact)} region(s) of the image are pixel-for-pixel copies of another "
                f"part (about {100 * area:.1f}% of the image each side): something was cloned.",
                Direction.EDITED,
                round(min(0.9, 0.6 + 10 * area), 3),
            )
        elif repeating:
            details["abstained"] = "repeating texture"
            return Finding(
                self.name,
                f"The image has repeating texture: {len(regions)} regions resemble other parts "
                "of it at different offsets, none standing out, so a copied region cannot be "
                "told from repetition here; this analysis does not judge it.",
                None,
                [],
                details,
                maps,
            )
        else:
            ev = Evidence(
                "possible_copy_move",
                f"{len(regions)} region(s) closely resemble another part of the image; this can "
                "be a copy saved as JPEG afterwards, or repeating structure (tiles, windows, "
                "identical objects): check the map.",
                Direction.EDITED,
                0.2,
            )
        return Finding(
            self.name, ev.message, round(0.5 + 0.5 * ev.strength, 4), [ev], details, maps
        )
