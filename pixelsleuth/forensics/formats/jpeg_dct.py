"""JPEG's 8×8 block DCT: the quantized luma coefficients as the file stores them (read with
jpeglib), the same transform computed from pixels (float64, and a faster float32 one), and the
double-compression score that compares a file's coefficient histograms with a calibrated copy.

Shared by the ``jpeg`` analyzer (double compression) and ``ghost`` (re-save energies).
"""

from __future__ import annotations

import contextlib
import ctypes
import io

import numpy as np
from scipy.fft import dct, dctn

from pixelsleuth.forensics.formats.jpeg import ZIGZAG
from pixelsleuth.imageio import in_memory_path, native_stderr_captured

_FREQUENCIES = 15  # first AC coefficients in zigzag order
_MIN_COEFFICIENTS = 200  # nonzero values a frequency needs to count
_HIST_RANGE = 30


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
