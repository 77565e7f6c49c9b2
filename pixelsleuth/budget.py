"""The memory budget: how much memory the analysis of one image may take.

An image whose full analysis would need more than the budget is analysed on a reduced copy
that fits it (``LoadedImage.rgb``: a JPEG is decoded straight at 1/2, 1/4 or 1/8 scale by
libjpeg's DCT scaling, another format decoded once and reduced); the analyzers that need the
original pixel grid abstain and the report says which size the others saw. An image whose
decode alone would not fit is not decoded: its pixel analyzers each say so in words, while the
analyzers that read the file's bytes (metadata, provenance, JPEG tables) still run. The
default is fitted to the machine (a quarter of its memory, between 1.5 and 3 GiB);
``Limits.memory_budget_mb`` sets it (``--memory-budget-mb`` or ``PIXELSLEUTH_MEMORY_BUDGET_MB``,
read by :class:`pixelsleuth.settings.Settings`). Every function takes the budget in bytes.
"""

from __future__ import annotations

import os

MIB = 2**20
GIB = 2**30
# Fitted to bench/bench_memory.py's peaks of a full analysis (stability copies included) of
# every pixel in a fresh process (before working copies existed): 1765 MiB at 22.1 MP and
# 4084 MiB at 100.7 MP, i.e. about 31 bytes per pixel (the image's RGB, luma and Pillow
# planes, a stability copy's, the largest analyzer's temporaries) on top of 1100 MiB that the
# process holds anyway (of which `import torch`, PyPI's CUDA build, is 709 MiB and timm 200).
BYTES_PER_PIXEL = 31
BASELINE_BYTES = 1100 * MIB


def memory_budget_bytes(megabytes: float | None = None) -> int:
    """The budget in bytes: ``megabytes`` if given, else a quarter of the machine's memory,
    at least 1.5 GiB and at most 3 GiB."""
    if megabytes is not None:
        return max(0, int(megabytes * MIB))
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        total = 8 * GIB
    return int(min(max(total / 4, 1.5 * GIB), 3 * GIB))


def estimated_bytes(pixels: int) -> int:
    """What analysing an image of ``pixels`` pixels is expected to take at its peak."""
    return BASELINE_BYTES + BYTES_PER_PIXEL * max(pixels, 0)


def working_pixels(budget: int) -> int:
    """The most pixels whose full analysis fits ``budget`` bytes (0 when none would)."""
    return max(0, (budget - BASELINE_BYTES) // BYTES_PER_PIXEL)


def decode_fits(pixels: int, bytes_per_pixel: int, budget: int) -> bool:
    """Whether decoding ``pixels`` at ``bytes_per_pixel`` (before reducing it) fits ``budget``."""
    return BASELINE_BYTES + bytes_per_pixel * max(pixels, 0) <= budget


def budget_exceeded(pixels: int, budget: int) -> str | None:
    """How analysing ``pixels`` pixels would exceed ``budget`` bytes, in words, or None if it
    fits."""
    need = estimated_bytes(pixels)
    if need <= budget:
        return None
    return (
        f"analysing its {pixels / 1e6:.1f} MP would take about {need / GIB:.1f} GiB of memory, "
        f"over the memory budget of {budget / GIB:.1f} GiB (raise it with --memory-budget-mb "
        "or PIXELSLEUTH_MEMORY_BUDGET_MB)"
    )


def over_budget(pixels: int, budget: int) -> str | None:
    """Why an image of ``pixels`` pixels is not decoded under ``budget``, or None if it fits."""
    exceeded = budget_exceeded(pixels, budget)
    return None if exceeded is None else f"{exceeded}; the file's metadata was still read"
