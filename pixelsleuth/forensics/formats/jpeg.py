"""Parsing: a JPEG's coding parameters from its own markers (DQT, SOF, DHT, DRI, SOS).

Works on the segments found by :func:`containers.read_jpeg_structure`, so every length has
already been checked against the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pixelsleuth.forensics.formats.containers import JpegStructure

# zigzag position -> natural (row-major) index
ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
])  # fmt: skip

SOF_NAMES = {
    0xC0: "baseline",
    0xC1: "extended sequential",
    0xC2: "progressive",
    0xC3: "lossless",
    0xC5: "differential sequential",
    0xC6: "differential progressive",
    0xC7: "differential lossless",
    0xC9: "arithmetic sequential",
    0xCA: "arithmetic progressive",
    0xCB: "arithmetic lossless",
}

# Annex K.3 code-length counts of the example ("standard") Huffman tables
STANDARD_HUFFMAN_BITS = {
    (0, "dc"): (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0),
    (1, "dc"): (0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0),
    (0, "ac"): (0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D),
    (1, "ac"): (0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77),
}


@dataclass
class Component:
    id: int
    h: int  # horizontal sampling factor
    v: int
    table: int  # quantization table id


@dataclass
class JpegInfo:
    """Coding parameters. ``qtables`` maps table id to an 8×8 array in natural order."""

    qtables: dict[int, np.ndarray] = field(default_factory=dict)
    qtable_precision: dict[int, int] = field(default_factory=dict)  # bits: 8 or 16
    process: str | None = None
    width: int = 0
    height: int = 0
    components: list[Component] = field(default_factory=list)
    huffman_bits: list[tuple[str, int, tuple[int, ...]]] = field(default_factory=list)
    restart_interval: int = 0
    scans: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def subsampling(self) -> str | None:
        """'4:4:4', '4:2:2', '4:2:0', '4:1:1', 'grey', or 'HxV,…' for unusual layouts."""
        if not self.components:
            return None
        if len(self.components) == 1:
            return "grey"
        y = self.components[0]
        chroma = self.components[1:3]
        if any(c.h != 1 or c.v != 1 for c in chroma):
            return ",".join(f"{c.h}x{c.v}" for c in self.components)
        return {
            (1, 1): "4:4:4",
            (2, 1): "4:2:2",
            (1, 2): "4:4:0",
            (2, 2): "4:2:0",
            (4, 1): "4:1:1",
        }.get((y.h, y.v), f"{y.h}x{y.v}")

    @property
    def huffman(self) -> str:
        """'standard' (Annex K tables), 'optimised' (image-specific), or 'none'."""
        if not self.huffman_bits:
            return "none"
        standard = set(STANDARD_HUFFMAN_BITS.values())
        return (
            "standard" if all(bits in standard for _, _, bits in self.huffman_bits) else "optimised"
        )

    def luma_table(self) -> np.ndarray | None:
        if self.components:
            return self.qtables.get(self.components[0].table)
        return self.qtables.get(0)

    def chroma_table(self) -> np.ndarray | None:
        if len(self.components) >= 2:
            return self.qtables.get(self.components[1].table)
        return self.qtables.get(1)


def parse_jpeg(structure: JpegStructure) -> JpegInfo:
    info = JpegInfo(scans=structure.scans)
    for seg in structure.segments:
        p = seg.payload
        if seg.marker == 0xDB:
            _dqt(p, info)
        elif seg.marker in SOF_NAMES and info.process is None:
            _sof(seg.marker, p, info)
        elif seg.marker == 0xC4:
            _dht(p, info)
        elif seg.marker == 0xDD and len(p) >= 2:
            info.restart_interval = int.from_bytes(p[:2], "big")
    return info


def _dqt(p: bytes, info: JpegInfo) -> None:
    pos = 0
    while pos < len(p):
        precision, table_id = p[pos] >> 4, p[pos] & 0x0F
        size = 128 if precision else 64
        if pos + 1 + size > len(p) or table_id > 3:
            info.warnings.append("malformed quantization table")
            return
        raw = p[pos + 1 : pos + 1 + size]
        values = np.frombuffer(raw, dtype=">u2" if precision else "u1").astype(np.int32)
        natural = np.zeros(64, np.int32)
        natural[ZIGZAG] = values
        info.qtables[table_id] = natural.reshape(8, 8)
        info.qtable_precision[table_id] = 16 if precision else 8
        pos += 1 + size


def _sof(marker: int, p: bytes, info: JpegInfo) -> None:
    if len(p) < 6:
        info.warnings.append("malformed frame header")
        return
    info.process = SOF_NAMES[marker]
    info.height = int.from_bytes(p[1:3], "big")
    info.width = int.from_bytes(p[3:5], "big")
    n = p[5]
    for i in range(n):
        at = 6 + 3 * i
        if at + 3 > len(p):
            info.warnings.append("frame header cut off")
            return
        info.components.append(Component(p[at], p[at + 1] >> 4, p[at + 1] & 0x0F, p[at + 2]))


def _dht(p: bytes, info: JpegInfo) -> None:
    pos = 0
    while pos + 17 <= len(p):
        klass, table_id = p[pos] >> 4, p[pos] & 0x0F
        bits = tuple(p[pos + 1 : pos + 17])
        count = sum(bits)
        if pos + 17 + count > len(p):
            info.warnings.append("malformed Huffman table")
            return
        info.huffman_bits.append(("ac" if klass else "dc", table_id, bits))
        pos += 17 + count
