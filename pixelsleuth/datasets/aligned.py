"""Aligned fakes: a real photo passed through a generator's autoencoder.

The fake differs from its real twin only by the autoencoder's traces (same content, size and
framing), which is what keeps a detector from learning content or format instead of traces.
Large photos are processed in overlapping tiles (blended linearly), tiles are batched, and on
a CPU the network runs in channels-last layout, which is markedly faster there.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

LATENT_SCALE = 8  # autoencoders of this family work on multiples of 8 pixels


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 images of the same shape."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def roundtrip(
    encode_decode: Callable[[torch.Tensor], torch.Tensor],
    rgb: np.ndarray,
    tile: int = 512,
    overlap: int = 64,
    batch_size: int = 4,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> np.ndarray:
    """Encode and decode ``rgb`` (uint8 H×W×3) and return the result at the same size.

    ``encode_decode`` maps N×3×h×w images in [0, 1] to the same. Images larger than ``tile``
    are cut into overlapping tiles (sides multiples of 8) whose outputs are blended with
    linear ramps across the ``overlap``, so no seam shows.
    """
    h, w = rgb.shape[:2]
    x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float().div_(255.0)  # a writable copy
    ph, pw = -h % LATENT_SCALE, -w % LATENT_SCALE
    if ph or pw:  # reflect-pad to a multiple of 8; cropped again below
        x = torch.nn.functional.pad(x[None], (0, pw, 0, ph), mode="reflect")[0]
    H, W = x.shape[1:]
    tile = max(LATENT_SCALE * 8, tile - tile % LATENT_SCALE)
    overlap = min(overlap - overlap % LATENT_SCALE, tile // 2)
    ys = _starts(H, tile, overlap)
    xs = _starts(W, tile, overlap)
    th, tw = min(tile, H), min(tile, W)
    out = torch.zeros(3, H, W)
    weight = torch.zeros(1, H, W)
    ramp = _ramp(th, tw, overlap if len(ys) > 1 else 0, overlap if len(xs) > 1 else 0)
    coords = [(y, x0) for y in ys for x0 in xs]
    for i in range(0, len(coords), batch_size):
        chunk = coords[i : i + batch_size]
        batch = torch.stack([x[:, y : y + th, x0 : x0 + tw] for y, x0 in chunk])
        batch = batch.to(device=device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), _autocast(device, dtype):
            result = encode_decode(batch).float().clamp_(0, 1).cpu()
        for (y, x0), r in zip(chunk, result, strict=True):
            out[:, y : y + th, x0 : x0 + tw] += r * ramp
            weight[:, y : y + th, x0 : x0 + tw] += ramp
    out = (out / weight.clamp_min(1e-6))[:, :h, :w]
    return out.mul_(255.0).round_().clamp_(0, 255).byte().permute(1, 2, 0).numpy()


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step))
    starts.append(size - tile)
    return starts


def _ramp(h: int, w: int, oy: int, ox: int) -> torch.Tensor:
    def axis(n: int, o: int) -> torch.Tensor:
        r = torch.ones(n)
        if o:
            edge = torch.linspace(1.0 / (o + 1), 1.0, o)
            r[:o], r[n - o :] = edge, edge.flip(0)
        return r

    return (axis(h, oy)[:, None] * axis(w, ox)[None, :])[None]


def _autocast(device: str | torch.device, dtype: torch.dtype):
    kind = torch.device(device).type
    if dtype in (torch.bfloat16, torch.float16):
        return torch.autocast(kind, dtype=dtype)
    return torch.autocast(kind, enabled=False)
