"""sd-webui-stealth-pnginfo: generation text hidden in the alpha or RGB low bits."""

from __future__ import annotations

import zlib

import numpy as np

_STEALTH = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
_SIG_BITS = 15 * 8
MAX_STEALTH_BYTES = 1024 * 1024


def read_stealth(pixels: np.ndarray) -> tuple[str, str] | None:
    """Text hidden by sd-webui-stealth-pnginfo in the low bits, read column by column.

    ``pixels``: uint8 H×W×3 or H×W×4. Returns (mode, text) or None. Layout: a 15-byte signature,
    a 32-bit big-endian payload length in bits, then the payload (gzip if the signature says so).
    """
    h, w = pixels.shape[:2]
    candidates = []
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        candidates.append(("alpha", pixels[..., 3:4]))
    if pixels.ndim == 3 and pixels.shape[2] >= 3:
        candidates.append(("rgb", pixels[..., :3]))
    for mode, planes in candidates:
        per_pixel = planes.shape[2]
        # column-major order: x outer, y inner; channels innermost
        need_px = -(-(_SIG_BITS + 32) // per_pixel)
        if need_px > h * w:
            continue
        head = _column_major_bits(planes, need_px)
        sig = np.packbits(head[:_SIG_BITS]).tobytes()
        if sig not in _STEALTH or _STEALTH[sig][0] != mode:
            continue
        compressed = _STEALTH[sig][1]
        n_bits = int.from_bytes(np.packbits(head[_SIG_BITS : _SIG_BITS + 32]).tobytes(), "big")
        total_bits = _SIG_BITS + 32 + n_bits
        if n_bits <= 0 or n_bits % 8 or n_bits > MAX_STEALTH_BYTES * 8:
            return None
        if total_bits > h * w * per_pixel:
            return None
        bits = _column_major_bits(planes, -(-total_bits // per_pixel))
        payload = np.packbits(bits[_SIG_BITS + 32 : total_bits]).tobytes()
        if compressed:
            try:
                d = zlib.decompressobj(wbits=31)  # gzip
                payload = d.decompress(payload, MAX_STEALTH_BYTES)
            except zlib.error:
                return None
        return mode, payload.decode("utf-8", errors="replace")
    return None


def _column_major_bits(planes: np.ndarray, n_pixels: int) -> np.ndarray:
    h = planes.shape[0]
    cols = -(-n_pixels // h)
    block = planes[:, :cols, :].transpose(1, 0, 2).reshape(-1)  # x outer, y inner
    return (block[: n_pixels * planes.shape[2]] & 1).astype(np.uint8)
