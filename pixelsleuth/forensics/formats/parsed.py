"""All metadata blocks of one file, read and parsed once and shared by the analyzers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pixelsleuth.forensics.formats.containers import Containers, read_containers
from pixelsleuth.forensics.formats.exif import ExifData, parse_exif
from pixelsleuth.forensics.formats.icc import parse_icc
from pixelsleuth.forensics.formats.iptc import parse_iptc
from pixelsleuth.forensics.formats.xmp import parse_xmp
from pixelsleuth.imageio import LoadedImage


@dataclass
class ParsedMetadata:
    containers: Containers
    exif: ExifData | None = None
    xmp: dict[str, Any] = field(default_factory=dict)
    iptc: dict[str, Any] = field(default_factory=dict)
    icc: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> dict[str, str]:
        """PNG text chunks by key (the first of each key)."""
        out: dict[str, str] = {}
        for chunk in self.containers.text_chunks:
            out.setdefault(chunk.key, chunk.text)
        return out


def parsed_metadata(image: LoadedImage) -> ParsedMetadata:
    """The file's metadata, parsed once per file (memoised on the image)."""
    return image.memo("parsed_metadata", lambda: _parse(image.data))


def _parse(data: bytes) -> ParsedMetadata:
    c = read_containers(data)
    meta = ParsedMetadata(containers=c, warnings=list(c.warnings))
    if c.exif:
        meta.exif = parse_exif(c.exif)
        meta.warnings += [f"EXIF: {w}" for w in meta.exif.warnings]
    for packet in c.xmp:
        props, error = parse_xmp(packet)
        if error:
            meta.warnings.append(error)
        for key, value in props.items():
            meta.xmp.setdefault(key, value)
    if c.iptc:
        meta.iptc, iptc_warnings = parse_iptc(c.iptc)
        meta.warnings += [f"IPTC: {w}" for w in iptc_warnings]
    if c.icc:
        meta.icc = parse_icc(c.icc)
    return meta
