"""JPEG tables and history: quality, encoder signature, and double compression.

Reads the file's own markers (``formats/jpeg.py``): quantization tables, chroma subsampling,
standard or optimised Huffman tables, restart markers, baseline or progressive. Quality is an
*exact* match against the IJG/libjpeg scaled tables when there is one, otherwise an estimate
with its spread. A table of camera signatures (``data/jpeg_signatures.json``, built by
``scripts/build_jpeg_signatures.py``) turns "EXIF says camera X, but the tables are a software
encoder's" into evidence. Double compression is detected from the DCT coefficient histograms,
compared with a calibrated (grid-shifted) version of the same image.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from scipy.fft import dct, dctn

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.formats.fields import canonical_fields
from pixelsleuth.forensics.formats.jpeg import ZIGZAG, JpegInfo, parse_jpeg
from pixelsleuth.forensics.formats.parsed import parsed_metadata
from pixelsleuth.imageio import LoadedImage, in_memory_path, native_stderr_captured
from pixelsleuth.report import Direction, Evidence, Finding

# ITU-T T.81 Annex K example tables, natural order: the base of libjpeg's quality scaling
IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]).reshape(8, 8)  # fmt: skip
IJG_CHROMA = np.full((8, 8), 99)
IJG_CHROMA[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]

# Double-compression decision threshold on the calibrated histogram distance (mean of the
# three largest per-frequency L1 distances in excess of sampling noise). Fitted by
# scripts/calibrate_double_jpeg.py on real photos outside real/camera (corpus groups
# real/ml72 and real/copy-move, at two sizes): the 95th percentile of single-compressed
# images. real/camera is kept for the evaluation in tests/test_jpeg.py.
DOUBLE_JPEG_THRESHOLD = 0.059
_FREQUENCIES = 15  # first AC coefficients in zigzag order
_MIN_COEFFICIENTS = 200  # nonzero values a frequency needs to count
_HIST_RANGE = 30


def ijg_table(base: np.ndarray, quality: int, force_baseline: bool = True) -> np.ndarray:
    """libjpeg's ``jpeg_quality_scaling`` + ``jpeg_add_quant_table`` for quality 1–100."""
    quality = min(max(int(quality), 1), 100)
    scale = 5000 // quality if quality < 50 else 200 - quality * 2
    table = (base * scale + 50) // 100
    return np.clip(table, 1, 255 if force_baseline else 32767)


@functools.cache
def _ijg_tables() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return {q: (ijg_table(IJG_LUMA, q), ijg_table(IJG_CHROMA, q)) for q in range(1, 101)}


@dataclass
class QualityEstimate:
    """``quality`` on libjpeg's 1–100 scale; ``exact`` when the tables are libjpeg's own.
    ``low``/``high``: the spread of the quality implied by individual coefficients."""

    quality: float
    exact: bool
    low: float
    high: float

    def describe(self) -> str:
        if self.exact:
            return f"exactly libjpeg's tables at quality {self.quality:.0f}"
        return f"about {self.quality:.0f} (coefficients imply {self.low:.0f}–{self.high:.0f})"


def estimate_quality(luma: np.ndarray, chroma: np.ndarray | None = None) -> QualityEstimate:
    """Match the tables against libjpeg's scaled standard tables, exactly or approximately."""
    for q, (std_luma, std_chroma) in _ijg_tables().items():
        if np.array_equal(luma, std_luma) and (
            chroma is None or np.array_equal(chroma, std_chroma)
        ):
            return QualityEstimate(float(q), True, float(q), float(q))
    # Approximate: the scale factor libjpeg would have used, implied by the table sums
    # (luma and chroma together: both were scaled from their base tables).
    tables, bases = [luma], [IJG_LUMA]
    if chroma is not None:
        tables.append(chroma)
        bases.append(IJG_CHROMA)
    scale = 100.0 * sum(t.sum() for t in tables) / sum(b.sum() for b in bases)
    quality = _quality_from_scale(scale)
    values = np.concatenate([t.ravel() for t in tables])
    base = np.concatenate([b.ravel() for b in bases])
    usable = (values > 1) & (values < 255)  # clamped entries say nothing about the scale
    per_coef = [
        _quality_from_scale(100.0 * v / b)
        for v, b in zip(values[usable], base[usable], strict=True)
    ]
    low, high = np.percentile(per_coef, [10, 90]) if per_coef else (quality, quality)
    return QualityEstimate(round(quality, 1), False, round(float(low), 1), round(float(high), 1))


@functools.cache
def _imagemagick_references() -> dict[int, tuple[int, int, int, int]]:
    """quality -> (two-table sum, two-table checksum, luma sum, luma checksum) of libjpeg's
    tables; the checksum adds the coefficients ImageMagick samples (natural order 2 and 53 of
    luma, 0 and 63 of chroma)."""
    out = {}
    for q, (lum, chrom) in _ijg_tables().items():
        lum_check = int(lum.flat[2] + lum.flat[53])
        out[q] = (
            int(lum.sum() + chrom.sum()),
            lum_check + int(chrom.flat[0] + chrom.flat[63]),
            int(lum.sum()),
            lum_check,
        )
    return out


def imagemagick_quality(qtables: dict[int, np.ndarray]) -> int | None:
    """The quality ImageMagick's ``identify -format %Q`` reports, by its convention: the
    lowest libjpeg quality that is at least as coarse as the file's tables by their sum (over
    *every* table in the file) or by a four-coefficient checksum. Kept for comparison with
    other tools; a third table (a separate Cr copy) makes this read low, so
    :func:`estimate_quality` is the better number."""
    if 0 not in qtables:
        return None
    t0 = qtables[0]
    total = int(sum(t.sum() for t in qtables.values()))
    two = 1 in qtables
    check = int(t0.flat[2] + t0.flat[53]) + (
        int(qtables[1].flat[0] + qtables[1].flat[63]) if two else 0
    )
    for q, (sum2, check2, sum1, check1) in _imagemagick_references().items():
        ref_sum, ref_check = (sum2, check2) if two else (sum1, check1)
        if check < ref_check and total < ref_sum:
            continue
        return q
    return 100


def _quality_from_scale(scale: float) -> float:
    q = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / max(scale, 1e-9)
    return float(min(max(q, 1.0), 100.0))


# -- encoder signatures -----------------------------------------------------------------------


@functools.cache
def camera_signatures() -> dict[tuple[str, str], set[tuple[int, ...]]]:
    """(make, model) -> the luma+chroma tables (zigzag order, flattened) that model writes."""
    path = resources.files("pixelsleuth.forensics").joinpath("data/jpeg_signatures.json")
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    out: dict[tuple[str, str], set[tuple[int, ...]]] = {}
    for entry in data.get("cameras", []):
        key = (_norm(entry["make"]), _norm(entry["model"]))
        out.setdefault(key, set()).add(tuple(entry["tables"]))
    return out


def table_signature(info: JpegInfo) -> tuple[int, ...] | None:
    """Luma then chroma table in zigzag order, as stored in the signature file."""
    luma, chroma = info.luma_table(), info.chroma_table()
    if luma is None:
        return None
    parts = [luma.ravel()[ZIGZAG]]
    if chroma is not None:
        parts.append(chroma.ravel()[ZIGZAG])
    return tuple(int(v) for v in np.concatenate(parts))


def _norm(text: str | None) -> str:
    return " ".join((text or "").lower().split())


# -- double compression -----------------------------------------------------------------------


def read_luma_coefficients(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """Quantized luma DCT coefficients (blocks_y, blocks_x, 8, 8) and the luma table, read
    with jpeglib's libjpeg from an anonymous in-memory file: no copy of the user's image is
    ever written to a folder, not even by a killed process. libjpeg's warnings are kept off
    the terminal. None when jpeglib is missing or cannot read the file (the caller then
    estimates the coefficients from the pixels)."""
    try:
        import jpeglib
        from jpeglib._bind import CJpegLib
    except ImportError:  # pragma: no cover - declared dependency
        return None
    try:
        with (
            in_memory_path(data) as path,
            native_stderr_captured(),
            contextlib.redirect_stdout(io.StringIO()),  # its reader prints the path on failure
        ):
            jpeg = jpeglib.read_dct(path)  # the header only: sizes and sampling
            # jpeg.load() would copy the bytes to a named temporary file for its C reader;
            # handing that reader the in-memory path instead keeps every copy off the disk
            planes = [
                jpeg._alloc_dct_component(i) if wanted else None
                for i, wanted in enumerate(
                    (True, jpeg.has_chrominance, jpeg.has_chrominance, jpeg.has_black)
                )
            ]
            qt = ((ctypes.c_ushort * 64) * 4)()
            table_numbers = (ctypes.c_short * 4)()
            CJpegLib.read_jpeg_dct(
                srcfile=path,
                Y=planes[0],
                Cb=planes[1],
                Cr=planes[2],
                K=planes[3],
                qt=qt,
                quant_tbl_no=table_numbers,
                path="the image",
            )
        luma = np.ctypeslib.as_array(planes[0])
        tables = np.ctypeslib.as_array(qt)
        luma_table = tables[table_numbers[0]].reshape(8, 8)
        return luma.reshape(*luma.shape[:-1], 8, 8).astype(np.int32), luma_table.astype(np.int32)
    except Exception:  # damaged data, or a jpeglib whose internals moved: estimate instead
        return None


def block_dct(luma: np.ndarray, offset: int = 0) -> np.ndarray:
    """Orthonormal 8×8 block DCT of a level-shifted luma plane, starting ``offset`` pixels in.

    Returns (blocks_y, blocks_x, 8, 8) float64, the same scale as JPEG's DCT coefficients.
    """
    plane = luma[offset:, offset:]
    h, w = (plane.shape[0] // 8) * 8, (plane.shape[1] // 8) * 8
    blocks = (plane[:h, :w].astype(np.float64) - 128.0).reshape(h // 8, 8, w // 8, 8)
    return dctn(blocks.transpose(0, 2, 1, 3), axes=(2, 3), norm="ortho")


def _block_dct_at(
    luma: np.ndarray, offset: int, frequencies: list[tuple[int, int]], rows: int = 64
) -> np.ndarray:
    """:func:`block_dct` of ``luma`` at ``offset``, only at ``frequencies`` (row, column):
    (len(frequencies), blocks_y, blocks_x) float64, the same values. ``rows`` block rows are
    transformed at a time, so that no full-size float64 copy of the image is made."""
    plane = luma[offset:, offset:]
    by, bx = plane.shape[0] // 8, plane.shape[1] // 8
    out = np.empty((len(frequencies), by, bx), np.float64)
    index = tuple(np.array(f) for f in zip(*frequencies, strict=True))
    for y in range(0, by, rows):
        stripe = block_dct(plane[y * 8 : (y + rows) * 8, : bx * 8])
        out[:, y : y + rows] = np.moveaxis(stripe[:, :, index[0], index[1]], 2, 0)
    return out


_DCT8 = dct(np.eye(8), axis=0, norm="ortho").astype(np.float32)  # _DCT8 @ x = DCT of x


def block_dct32(plane: np.ndarray) -> np.ndarray:
    """:func:`block_dct` (no offset) in float32, as two matrix products: about three times
    faster than an FFT-based DCT of so many tiny blocks. For energies (JPEG ghosts); the
    rounding decisions of re-quantization (double compression) keep float64.
    """
    h, w = (plane.shape[0] // 8) * 8, (plane.shape[1] // 8) * 8
    blocks = (plane[:h, :w].astype(np.float32) - 128.0).reshape(h // 8, 8, w // 8, 8)
    rows = np.tensordot(blocks, _DCT8.T, axes=([3], [0]))  # (h/8, 8, w/8, 8)
    return np.ascontiguousarray(np.tensordot(_DCT8, rows, axes=([1], [1])).transpose(1, 2, 0, 3))


def double_compression_score(
    coefficients: np.ndarray, qtable: np.ndarray, luma: np.ndarray
) -> tuple[float | None, list[float]]:
    """Mean of the three largest per-frequency distances (in excess of sampling noise) between
    the file's coefficient histograms and those of a calibrated copy: the decoded luma shifted
    by 4 pixels, which breaks the grid of any earlier compression, quantized with the same
    table.

    A once-compressed image looks like its calibrated copy; an earlier compression leaves
    periodic peaks and gaps that the copy lacks. None when the image is too small to tell.
    """
    frequencies = [divmod(int(ZIGZAG[zz]), 8) for zz in range(1, _FREQUENCIES + 1)]
    calibrated = _block_dct_at(luma, 4, frequencies)
    distances = []
    for (r, c), shifted in zip(frequencies, calibrated, strict=True):
        actual = np.abs(coefficients[:, :, r, c].ravel())
        if np.count_nonzero(actual) < _MIN_COEFFICIENTS:
            continue
        reference = np.abs(np.round(shifted.ravel() / max(qtable[r, c], 1)))
        h_act, h_ref = _hist(actual), _hist(reference.astype(np.int64))
        # Subtract the L1 distance that sampling noise alone gives two histograms of this
        # size, so that small images are judged by the same standard as large ones.
        pooled = (h_act + h_ref) / 2
        noise = np.sqrt(2 / np.pi * pooled * (1 - pooled) * (1 / len(actual) + 1 / len(reference)))
        distances.append(float(np.abs(h_act - h_ref).sum() - noise.sum()))
    if len(distances) < 3:
        return None, distances
    return float(np.mean(sorted(distances)[-3:])), distances


def _hist(values: np.ndarray) -> np.ndarray:
    h = np.bincount(np.minimum(values, _HIST_RANGE + 1), minlength=_HIST_RANGE + 2)
    h = h[: _HIST_RANGE + 1].astype(np.float64)
    return h / max(h.sum(), 1.0)


def jpeg_tables(image: LoadedImage) -> tuple[JpegInfo, QualityEstimate | None] | None:
    """The file's JPEG coding parameters and quality estimate (None if not a JPEG); memoised."""

    def compute() -> tuple[JpegInfo, QualityEstimate | None] | None:
        structure = parsed_metadata(image).containers.jpeg
        if structure is None:
            return None
        info = parse_jpeg(structure)
        luma = info.luma_table()
        return info, None if luma is None else estimate_quality(luma, info.chroma_table())

    return image.memo("jpeg_tables", compute)


# -- the analyzer -----------------------------------------------------------------------------


@register
class JpegAnalyzer(Analyzer):
    name = "jpeg"
    title = "JPEG tables and compression history"
    explains = (
        "How the JPEG was encoded (quality, tables, subsampling) and whether it was compressed "
        "more than once; re-saving is what editing does, but also what sharing does, so it "
        "shows history, not intent."
    )
    needs_pixels = False  # the tables need no decoding; double compression decodes itself
    order = 40

    def __init__(self, double_compression: bool = True) -> None:
        """``double_compression``: also look for an earlier compression in the DCT
        coefficients (this decodes the pixels); without it, the tables alone (triage)."""
        self.double_compression = double_compression

    def analyze(self, image: LoadedImage) -> Finding:
        meta = parsed_metadata(image)
        tables = jpeg_tables(image)
        if meta.containers.kind != "jpeg" or tables is None:
            return Finding(
                analyzer=self.name,
                summary=f"Not a JPEG file ({image.info.format or 'unknown format'}): there are "
                "no JPEG tables to inspect.",
            )
        info, quality = tables
        luma = info.luma_table()
        details: dict[str, Any] = {
            "process": info.process,
            "progressive": info.process is not None and "progressive" in info.process,
            "subsampling": info.subsampling,
            "huffman": info.huffman,
            "restart_interval": info.restart_interval,
            "scans": info.scans,
            "quantization_tables": {k: v.tolist() for k, v in info.qtables.items()},
            "table_precision_bits": info.qtable_precision,
        }
        evidence: list[Evidence] = []
        if luma is None or quality is None:
            return Finding(
                analyzer=self.name,
                summary="The JPEG has no readable quantization table; it is malformed.",
                evidence=[Evidence("no_qtable", "No quantization table.", Direction.NEUTRAL)],
                details=details,
            )
        details["quality"] = {
            "estimate": quality.quality,
            "exact_ijg": quality.exact,
            "low": quality.low,
            "high": quality.high,
            "imagemagick": imagemagick_quality(info.qtables),
        }
        self._signature_evidence(info, quality, canonical_fields(meta), evidence, details)
        if self.double_compression:
            self._double_compression(image, info, evidence, details)
        else:
            details["double_compression"] = {"score": None, "reason": "not checked (triage)"}
        return Finding(
            analyzer=self.name,
            summary=self._summary(quality, info, evidence),
            score=_score(evidence),
            evidence=evidence,
            details=details,
        )

    @staticmethod
    def _signature_evidence(
        info: JpegInfo,
        quality: QualityEstimate,
        fields: dict[str, Any],
        evidence: list[Evidence],
        details: dict[str, Any],
    ) -> None:
        make, model = fields.get("Make"), fields.get("Model")
        camera = " ".join(p for p in (make, model) if p) or None
        signature = table_signature(info)
        known = camera_signatures().get((_norm(make), _norm(model))) if camera else None
        details["camera_signature"] = (
            "unknown model"
            if camera and known is None
            else None
            if not camera
            else "match"
            if signature in known
            else "mismatch"
        )
        if not camera:
            if quality.exact:
                evidence.append(
                    Evidence(
                        "software_tables",
                        f"The tables are {quality.describe()}, as written by common software "
                        "(Pillow, GIMP, ImageMagick, many web services).",
                        Direction.NEUTRAL,
                        0.0,
                    )
                )
            return
        if known is not None and signature in known:
            evidence.append(
                Evidence(
                    "camera_tables",
                    f"The tables are the ones the {camera} writes itself.",
                    Direction.CAMERA,
                    0.3,
                )
            )
        elif quality.exact:
            strength = 0.6 if known is not None else 0.3
            evidence.append(
                Evidence(
                    "software_tables_with_camera_exif",
                    f"The EXIF names a {camera}, but the tables are {quality.describe()} — a "
                    "software encoder's"
                    + (", not this camera's own" if known is not None else "")
                    + ": the file was probably saved again by a program.",
                    Direction.EDITED,
                    strength,
                )
            )
        elif known is not None:
            evidence.append(
                Evidence(
                    "foreign_tables",
                    f"The tables differ from those the {camera} writes: the file was probably "
                    "saved again by other software.",
                    Direction.EDITED,
                    0.45,
                )
            )
        if details["progressive"]:
            evidence.append(
                Evidence(
                    "progressive_with_camera_exif",
                    "The JPEG is progressive, which cameras rarely write but web tools often do.",
                    Direction.EDITED,
                    0.25,
                )
            )
        elif info.huffman == "optimised":
            evidence.append(
                Evidence(
                    "optimised_huffman",
                    "The Huffman tables are optimised for this image, which most cameras do not "
                    "do but many editors and optimisers do.",
                    Direction.EDITED,
                    0.15,
                )
            )

    @staticmethod
    def _double_compression(
        image: LoadedImage, info: JpegInfo, evidence: list[Evidence], details: dict[str, Any]
    ) -> None:
        if reduced := image.require_full_resolution("the double-compression test"):
            details["double_compression"] = {"score": None, "reason": reduced}
            return
        try:
            luma = image.gray()
        except Exception as exc:  # damaged pixels: no calibration possible
            details["double_compression"] = {"score": None, "reason": str(exc)}
            return
        # jpeglib's libjpeg can crash the whole process on a damaged JPEG (a double free after
        # "extraneous bytes" warnings): it only reads files libjpeg-turbo decoded cleanly
        coefficients = read_luma_coefficients(image.data) if image.libjpeg_clean else None
        source = "jpeglib"
        qtable = info.luma_table()
        if coefficients is None:  # estimate the coefficients from the decoded pixels
            coefficients = np.round(block_dct(luma) / np.maximum(qtable, 1)).astype(np.int64)
            source = "estimated from pixels"
        else:
            coefficients, qtable = coefficients
        score, per_freq = double_compression_score(coefficients, qtable, luma)
        details["double_compression"] = {
            "score": None if score is None else round(score, 4),
            "threshold": DOUBLE_JPEG_THRESHOLD,
            "per_frequency": [round(d, 4) for d in per_freq],
            "coefficients": source,
        }
        if score is None:
            return
        if score >= DOUBLE_JPEG_THRESHOLD:
            strength = float(min(0.7, 0.4 + (score - DOUBLE_JPEG_THRESHOLD) * 2))
            evidence.append(
                Evidence(
                    "double_compression",
                    "The DCT coefficient histograms carry the traces of an earlier JPEG "
                    "compression: the image was saved as JPEG at least twice (editing does this, "
                    "but so does re-sharing).",
                    Direction.EDITED,
                    strength,
                )
            )
        else:
            evidence.append(
                Evidence(
                    "single_compression",
                    "No trace of an earlier JPEG compression was found (a first save at a higher "
                    "quality than this one would leave none).",
                    Direction.NEUTRAL,
                    0.0,
                )
            )

    @staticmethod
    def _summary(quality: QualityEstimate, info: JpegInfo, evidence: list[Evidence]) -> str:
        strongest = max(
            (e for e in evidence if e.direction is Direction.EDITED),
            key=lambda e: e.strength,
            default=None,
        )
        facts = f"JPEG quality {quality.describe()}, {info.subsampling or 'unknown'} subsampling"
        if strongest is not None:
            return f"{strongest.message} ({facts}.)"
        camera = next((e for e in evidence if e.direction is Direction.CAMERA), None)
        if camera is not None:
            return f"{camera.message} ({facts}.)"
        return f"{facts[0].upper()}{facts[1:]}; nothing in the tables points to re-saving."


def _score(evidence: list[Evidence]) -> float:
    edited = [e.strength for e in evidence if e.direction is Direction.EDITED]
    camera = [e.strength for e in evidence if e.direction is Direction.CAMERA]
    if edited:
        return round(0.5 + 0.5 * max(edited), 4)
    if camera:
        return round(0.5 - 0.5 * max(camera), 4)
    return 0.5
