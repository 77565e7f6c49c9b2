"""Fuzz harness: mutated corpus files, bombs and truncations through `analyze_file`.

    python bench/fuzz.py --count 10000 --seed 1 --workers 2 --out fuzz.json
    python bench/fuzz.py --count 60 --seed 7 --timeout 60 --out slice.json  # the test's slice

Each mutant is made deterministically from (``--seed``, its index): a seed file (small corpus
files of every format, plus generated files that carry every metadata block and every odd pixel
layout) and one mutation: bit flips, byte inserts/deletes, truncation, header field edits
(dimensions, bit depth, colour type), metadata block corruption (EXIF IFD types, counts and
offsets; XMP, ICC, IPTC, PNG text chunks, JUMBF), or a decompression bomb (a tiny file
claiming a huge size). ``--big`` adds legitimately large images (slow, memory-hungry).

Every mutant goes through ``analyze_file`` with all default analyzers in worker subprocesses
(``--workers``), each with a per-file timeout (``--timeout`` s; a worker past it is killed and
replaced). Checked per file: no exception out of ``analyze_file`` and no "Traceback" on
stderr, no hang, no finding whose error starts with "internal error", no exception class name
in a user-facing message, the input's sha256 and mtime unchanged, nothing on stderr (library
warnings belong in the integrity finding), and nothing left in the workers' temporary folder.
The peak resident memory of each worker process is recorded (``ru_maxrss``).

The summary (counts, failures with their index and mutation so that any one can be made again
with ``--only INDEX``, peak memory per process) is written as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import random
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path(os.environ.get("PIXELSLEUTH_CORPUS", ROOT.parent / "shared" / "corpus"))
# corpus files up to this size are seeds: they analyse in a fraction of a second
SMALL_SEED_BYTES = 120_000
SMALL_SEED_PIXELS = 250_000

# A user-facing message must not name an exception class ("OSError: ...")
CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Warning)\b")


# -- seeds ------------------------------------------------------------------------------------


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(ctype + body)
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", crc)


def _photo(height: int, width: int, seed: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [128 + 60 * np.sin(x / 9.0), 128 + 60 * np.cos(y / 7.0), 128 + 40 * np.sin((x + y) / 13)],
        axis=-1,
    )
    base += rng.normal(0, 6, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def _jumbf_c2pa(payload: bytes) -> bytes:
    """An APP11 segment body shaped like a C2PA JUMBF box (label "c2pa") around ``payload``."""
    label = b"c2pa\x00"
    desc = struct.pack(">I", 8 + 16 + 1 + len(label)) + b"jumd" + b"c2pa" + b"\x00" * 12
    desc += b"\x03" + label
    box = desc + struct.pack(">I", 8 + len(payload)) + b"json" + payload
    jumb = struct.pack(">I", 8 + len(box)) + b"jumb" + box
    return b"JP" + struct.pack(">HI", 1, 1) + jumb


def _jpeg_segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


# Over 80 lines: a list of hostile inputs, one block each; reading them in one place is the point.
def generated_seeds() -> dict[str, bytes]:
    """Small files that carry every metadata block and every odd pixel layout."""
    import numpy as np
    import piexif
    from PIL import Image, PngImagePlugin

    photo = _photo(48, 64, 0)
    out: dict[str, bytes] = {}

    def save(name: str, im: Image.Image, fmt: str, **kw: Any) -> None:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        out[name] = buf.getvalue()

    exif = piexif.dump(
        {
            "0th": {
                piexif.ImageIFD.Make: b"Canon",
                piexif.ImageIFD.Model: b"Canon EOS 7D",
                piexif.ImageIFD.Software: b"Adobe Photoshop 24.0",
                piexif.ImageIFD.DateTime: b"2021:05:06 07:08:09",
                piexif.ImageIFD.Orientation: 6,
            },
            "Exif": {
                piexif.ExifIFD.DateTimeOriginal: b"2021:05:01 07:08:09",
                piexif.ExifIFD.UserComment: b"ASCII\x00\x00\x00Steps: 20, Sampler: Euler",
                piexif.ExifIFD.ExposureTime: (1, 125),
            },
            "GPS": {piexif.GPSIFD.GPSLatitude: ((48, 1), (51, 1), (0, 1))},
        }
    )
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        b'22-rdf-syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/'
        b'Iptc4xmpExt/2008-02-29/" Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/'
        b'newscodes/digitalsourcetype/trainedAlgorithmicMedia" xmlns:xmp="http://ns.adobe.com/'
        b'xap/1.0/" xmp:CreatorTool="Photoshop"/></rdf:RDF></x:xmpmeta>'
    )
    try:
        from PIL import ImageCms

        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    except Exception:
        icc = None
    iptc = b"\x1c\x02\x00\x00\x02\x00\x04" + b"\x1c\x02\x78\x00\x05hello"
    irb = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    base = io.BytesIO()
    Image.fromarray(photo).save(base, "JPEG", quality=90, exif=exif)
    jpg = base.getvalue()
    segments = (
        _jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp)
        + (_jpeg_segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + icc) if icc else b"")
        + _jpeg_segment(0xED, b"Photoshop 3.0\x00" + irb)
        + _jpeg_segment(0xEB, _jumbf_c2pa(b'{"claim": "x"}'))
        + _jpeg_segment(0xFE, b"a comment")
    )
    out["gen-all-blocks.jpg"] = jpg[:2] + segments + jpg[2:]
    save("gen-progressive.jpg", Image.fromarray(photo), "JPEG", quality=80, progressive=True)
    save("gen-cmyk.jpg", Image.fromarray(photo).convert("CMYK"), "JPEG", quality=85)
    save("gen-gray.jpg", Image.fromarray(photo).convert("L"), "JPEG", quality=85)
    save("gen-1x1.jpg", Image.new("RGB", (1, 1), (200, 10, 10)), "JPEG")
    save("gen-8x8.png", Image.fromarray(photo[:8, :8]), "PNG")
    save("gen-1x1.png", Image.new("RGB", (1, 1)), "PNG")
    save("gen-palette.png", Image.fromarray(photo).convert("P"), "PNG")
    save("gen-rgba.png", Image.fromarray(photo).convert("RGBA"), "PNG")
    save("gen-la.png", Image.fromarray(photo).convert("LA"), "PNG")
    save("gen-1bit.png", Image.fromarray(photo).convert("1"), "PNG")
    sixteen = (photo[..., 0].astype(np.uint16) * 257).astype(np.uint16)
    save("gen-16bit.png", Image.fromarray(sixteen), "PNG")
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1")
    info.add_text("prompt", '{"3": {"class_type": "KSampler", "inputs": {"seed": 5}}}', zip=True)
    info.add_itxt("XML:com.adobe.xmp", xmp.decode(), zip=False)
    save("gen-text.png", Image.fromarray(photo), "PNG", pnginfo=info, exif=exif)
    if icc:
        save("gen-icc.png", Image.fromarray(photo), "PNG", icc_profile=icc)
    frames = [Image.fromarray(_photo(24, 32, s)) for s in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50)
    out["gen-animated.gif"] = buf.getvalue()
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=50)
    out["gen-animated.webp"] = buf.getvalue()
    save("gen-exif.webp", Image.fromarray(photo), "WEBP", quality=80, exif=exif)
    save("gen-lossless.webp", Image.fromarray(photo).convert("RGBA"), "WEBP", lossless=True)
    save("gen-exif.tif", Image.fromarray(photo), "TIFF", exif=exif)
    save("gen-cmyk.tif", Image.fromarray(photo).convert("CMYK"), "TIFF")
    save("gen-16bit.tif", Image.fromarray(sixteen), "TIFF")
    save("gen.bmp", Image.fromarray(photo), "BMP")
    return out


def corpus_seeds(
    corpus: Path, max_bytes: int = SMALL_SEED_BYTES, max_pixels: int = SMALL_SEED_PIXELS
) -> dict[str, bytes]:
    """Corpus files up to ``max_bytes`` and ``max_pixels``, at most 12 per group and format,
    in path order."""
    manifest = corpus / "manifest.csv"
    if not manifest.is_file():
        return {}
    with manifest.open(newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["path"])
    per_kind: Counter[tuple[str, str]] = Counter()
    out: dict[str, bytes] = {}
    for row in rows:
        kind = (row["group"], row["format"])
        size = int(row["bytes"] or 0)
        pixels = int(row["width"] or 0) * int(row["height"] or 0)
        if size > max_bytes or pixels > max_pixels or per_kind[kind] >= 12:
            continue
        path = corpus / row["path"]
        if path.is_file():
            per_kind[kind] += 1
            out[row["path"]] = path.read_bytes()
    return out


def camera_seeds(corpus: Path, count: int = 6) -> dict[str, bytes]:
    """The smallest camera JPEGs (real sensor data, real maker EXIF)."""
    folder = corpus / "real" / "camera"
    if not folder.is_dir():
        return {}
    paths = sorted(folder.glob("*.jpg"), key=lambda p: (p.stat().st_size, p.name))[:count]
    return {f"real/camera/{p.name}": p.read_bytes() for p in paths}


# -- mutations --------------------------------------------------------------------------------


def bit_flips(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 4, 16])):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def byte_edits(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice([1, 2, 3])):
        i = rng.randrange(len(out) + 1)
        if rng.random() < 0.5 and len(out) > 1:
            del out[i : i + rng.choice([1, 2, 4, 100])]
        else:
            out[i:i] = bytes(rng.randrange(256) for _ in range(rng.choice([1, 2, 4, 100])))
    return bytes(out)


def overwrite(data: bytes, rng: random.Random) -> bytes:
    """Interesting values (0, 0xFF.., lengths) written over a few bytes near the start."""
    out = bytearray(data)
    special = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00", b"\xff\xff", b"\xff\xff\xff\xff"]
    for _ in range(rng.choice([1, 2, 4])):
        value = rng.choice(special)
        i = rng.randrange(min(len(out), 2048))
        out[i : i + len(value)] = value
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    cut = rng.choice(
        [rng.randrange(1, 64), rng.randrange(len(data)), int(len(data) * rng.random() ** 3)]
    )
    return data[: max(1, min(cut, len(data) - 1))]


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start of the length field, payload end) for each segment before SOS."""
    out = []
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        out.append((marker, pos + 2, pos + 2 + length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset of the chunk, offset of its body) for each chunk."""
    out = []
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], pos, pos + 8))
        pos += 12 + length
    return out


def header_edit(data: bytes, rng: random.Random) -> bytes:
    """Change dimensions, precision, component counts or colour type in the image header."""
    out = bytearray(data)
    values = [0, 1, 2, 7, 8, 9, 255, 256, 65535, rng.randrange(65536)]
    if data[:2] == b"\xff\xd8":
        sofs = [s for s in _jpeg_segments(data) if s[0] in (0xC0, 0xC1, 0xC2)]
        if sofs:
            _, start, _ = sofs[0]
            field_at = rng.choice([start + 2, start + 3, start + 5, start + 7, start + 8])
            size = 1 if field_at in (start + 2, start + 7, start + 8) else 2
            value = rng.choice(values) % (256 if size == 1 else 65536)
            out[field_at : field_at + size] = value.to_bytes(size, "big")
            return bytes(out)
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 33:
        field_at, size = rng.choice([(16, 4), (20, 4), (24, 1), (25, 1), (26, 1), (28, 1)])
        value = rng.choice([0, 1, 3, 4, 6, 16, 2**31 - 1, 2**32 - 1, 46341])
        out[field_at : field_at + size] = (value % (1 << (8 * size))).to_bytes(size, "big")
        if rng.random() < 0.8:  # mostly keep the CRC valid, so the decoder believes the header
            out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])))
        return bytes(out)
    if data[:4] == b"RIFF" and len(data) > 30:
        i = rng.choice([4, 16, 24, 26, 28])
        out[i : i + 2] = rng.choice(values).to_bytes(2, "little")
        return bytes(out)
    if data[:3] == b"GIF" and len(data) > 10:
        out[6:10] = struct.pack("<HH", rng.choice(values), rng.choice(values))
        return bytes(out)
    return overwrite(data, rng)


def _exif_span(data: bytes) -> tuple[int, int] | None:
    """Where the TIFF structure of the EXIF block sits (JPEG APP1, PNG eXIf, WebP, TIFF)."""
    if data[:2] == b"\xff\xd8":
        for marker, start, end in _jpeg_segments(data):
            if marker == 0xE1 and data[start + 2 : start + 8] == b"Exif\x00\x00":
                return start + 8, end
        return None
    if data[:2] in (b"II", b"MM"):
        return 0, len(data)
    i = data.find(b"Exif\x00\x00")
    if i >= 0:
        return i + 6, len(data)
    for tag in (b"eXIf", b"EXIF"):
        i = data.find(tag)
        if i >= 0:
            return i + 4 + (4 if tag == b"EXIF" else 0), len(data)
    return None


def exif_corrupt(data: bytes, rng: random.Random) -> bytes:
    """Edit one IFD entry's type, count or value offset, or an IFD's entry count or next link."""
    span = _exif_span(data)
    if span is None:
        return bit_flips(data, rng)
    start, end = span
    tiff = data[start:end]
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return bit_flips(data, rng)
    order = "<" if tiff[:2] == b"II" else ">"
    out = bytearray(data)
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    entries: list[int] = []
    seen: set[int] = set()
    pending = [ifd]
    while pending and len(entries) < 400:
        off = pending.pop()
        if off in seen or off + 2 > len(tiff):
            continue
        seen.add(off)
        (count,) = struct.unpack(order + "H", tiff[off : off + 2])
        for k in range(min(count, 200)):
            e = off + 2 + 12 * k
            if e + 12 > len(tiff):
                break
            entries.append(e)
            tag, typ = struct.unpack(order + "HH", tiff[e : e + 4])
            if tag in (0x8769, 0x8825, 0xA005) and typ in (4, 13):
                pending.append(struct.unpack(order + "I", tiff[e + 8 : e + 12])[0])
    if not entries:
        return bit_flips(data, rng)
    e = start + rng.choice(entries)
    what = rng.choice(["type", "type", "count", "offset", "ifd_count"])
    if what == "type":
        out[e + 2 : e + 4] = struct.pack(order + "H", rng.choice([0, 1, 2, 3, 5, 7, 10, 12, 99]))
    elif what == "count":
        count = rng.choice([0, 1, 2, 5, 255, 65536, 2**31, 2**32 - 1])
        out[e + 4 : e + 8] = struct.pack(order + "I", count)
    elif what == "offset":
        out[e + 8 : e + 12] = struct.pack(order + "I", rng.choice([0, 1, 8, 2**31, 2**32 - 1]))
    else:
        ifd_at = start + ifd
        out[ifd_at : ifd_at + 2] = struct.pack(order + "H", rng.choice([0, 1, 0xFFFF]))
    return bytes(out)


def block_corrupt(data: bytes, rng: random.Random) -> bytes:
    """Corrupt one metadata block (XMP, ICC, IPTC, JUMBF, COM in JPEG; text, iCCP, eXIf, caBX
    in PNG): its length field, or bytes inside it; PNG CRCs are recomputed so the block is
    believed."""
    out = bytearray(data)
    if data[:2] == b"\xff\xd8":
        blocks = [s for s in _jpeg_segments(data) if 0xE0 <= s[0] <= 0xEF or s[0] == 0xFE]
        if not blocks:
            return bit_flips(data, rng)
        _, start, end = rng.choice(blocks)
        if rng.random() < 0.3:
            out[start : start + 2] = struct.pack(">H", rng.choice([0, 1, 2, 3, 0xFFFF]))
        else:
            for _ in range(rng.choice([1, 4, 16])):
                i = rng.randrange(start + 2, max(start + 3, end))
                if i < len(out):
                    out[i] = rng.randrange(256)
        return bytes(out)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        chunks = [c for c in _png_chunks(data) if c[0] not in (b"IHDR", b"IDAT", b"IEND")]
        if not chunks:
            return bit_flips(data, rng)
        _, at, body = rng.choice(chunks)
        (length,) = struct.unpack(">I", data[at : at + 4])
        if rng.random() < 0.2:
            out[at : at + 4] = struct.pack(">I", rng.choice([0, 1, length + 7, 2**31]))
            return bytes(out)
        for _ in range(rng.choice([1, 4, 16])):
            if length:
                out[body + rng.randrange(length)] = rng.randrange(256)
        crc_at = body + length
        out[crc_at : crc_at + 4] = struct.pack(">I", zlib.crc32(bytes(out[at + 4 : crc_at])))
        return bytes(out)
    return bit_flips(data, rng)


def png_bomb(rng: random.Random) -> bytes:
    """A tiny PNG that claims an enormous size (or many large text chunks)."""
    side = rng.choice([20_000, 65_535, 100_000, 2**31 - 1])
    ihdr = struct.pack(">IIBBBBB", side, side, 8, rng.choice([0, 2, 6]), 0, 0, 0)
    idat = zlib.compress(b"\x00" * rng.choice([1000, 1_000_000]), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def text_bomb(rng: random.Random) -> bytes:
    """A small valid PNG whose compressed text chunk inflates to 64 MB."""
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    body = b"\x00" + b"\x80" * 12
    chunk = (
        (b"zTXt", b"Comment\x00\x00")
        if rng.random() < 0.5
        else (b"iTXt", b"prompt\x00\x01\x00\x00\x00")
    )
    bomb = chunk[1] + zlib.compress(b"a" * (64 << 20), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(chunk[0], bomb)
        + _png_chunk(b"IDAT", zlib.compress(body * 4))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_bomb(seed_jpeg: bytes, rng: random.Random) -> bytes:
    out = bytearray(seed_jpeg)
    sofs = [s for s in _jpeg_segments(seed_jpeg) if s[0] in (0xC0, 0xC1, 0xC2)]
    if sofs:
        _, start, _ = sofs[0]
        side = rng.choice([20_000, 40_000, 65_535])
        out[start + 3 : start + 7] = struct.pack(">HH", side, side)
    return bytes(out)


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "bit-flips": bit_flips,
    "byte-edits": byte_edits,
    "overwrite": overwrite,
    "truncate": truncate,
    "header-edit": header_edit,
    "exif-corrupt": exif_corrupt,
    "block-corrupt": block_corrupt,
}
# how often each is drawn (out of the total weight); bombs are drawn separately
WEIGHTS = {
    "bit-flips": 3,
    "byte-edits": 2,
    "overwrite": 1,
    "truncate": 3,
    "header-edit": 2,
    "exif-corrupt": 3,
    "block-corrupt": 3,
}
BOMB_SHARE = 0.02


@dataclass
class Mutant:
    index: int
    seed_name: str
    mutation: str
    data: bytes


def make_mutant(index: int, seed: int, seeds: dict[str, bytes], names: list[str]) -> Mutant:
    """The ``index``-th mutant of run ``seed``: the same bytes every time."""
    rng = random.Random(f"{seed}:{index}")
    if rng.random() < BOMB_SHARE:
        kind = rng.choice(["png-bomb", "text-bomb", "jpeg-bomb"])
        if kind == "png-bomb":
            return Mutant(index, "-", kind, png_bomb(rng))
        if kind == "text-bomb":
            return Mutant(index, "-", kind, text_bomb(rng))
        jpegs = [n for n in names if seeds[n][:2] == b"\xff\xd8"]
        name = rng.choice(jpegs)
        return Mutant(index, name, kind, jpeg_bomb(seeds[name], rng))
    name = rng.choice(names)
    mutation = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    data = seeds[name]
    mutated = MUTATIONS[mutation](data, rng) if data else data
    return Mutant(index, name, mutation, mutated)


def big_images() -> dict[str, bytes]:
    """Legitimately large images (slow): a 50 MP JPEG and a 100 MP flat PNG."""
    import numpy as np
    from PIL import Image

    out = {}
    buf = io.BytesIO()
    Image.fromarray(np.tile(_photo(512, 512, 1), (14, 14, 1))[:5000, :7000]).save(
        buf, "JPEG", quality=85
    )
    out["big-35mp.jpg"] = buf.getvalue()
    buf = io.BytesIO()
    Image.new("L", (10000, 10000), 128).save(buf, "PNG")
    out["big-100mp-flat.png"] = buf.getvalue()
    return out


# -- workers ----------------------------------------------------------------------------------


def worker_main(stability: bool) -> None:
    """Read one path per line on stdin, analyse it, answer one JSON line on stdout."""
    import resource
    import traceback

    from pixelsleuth.analyze import analyze_file

    reply = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything a library prints on stdout lands with stderr, not in the protocol
    for line in sys.stdin:
        path = line.rstrip("\n")
        result: dict[str, Any] = {"path": path}
        try:
            report = analyze_file(path, stability=stability)
            doc = report.to_dict()
            json.dumps(doc)  # must serialise
            result["error"] = report.error
            result["verdict"] = doc["verdict"]["label"] if doc.get("verdict") else None
            result["partial"] = doc["file"].get("partial")
            result["internal"] = [
                f"{f['analyzer']}: {f['error']}"
                for f in doc["findings"]
                if (f.get("error") or "").startswith("internal error")
            ]
            texts = [report.error or ""] + [
                t for f in doc["findings"] for t in (f["summary"], f.get("error") or "")
            ]
            texts += [e["message"] for f in doc["findings"] for e in f["evidence"]]
            if doc.get("verdict"):
                texts += doc["verdict"]["reasons"]
            result["class_names"] = sorted(
                {m.group(0) for t in texts for m in CLASS_NAME.finditer(t)}
            )
        except BaseException:
            result["exception"] = traceback.format_exc()[-3000:]
        result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        reply.write(json.dumps(result) + "\n")
        reply.flush()


class Worker:
    """One analysing subprocess; replaced when it hangs or dies."""

    def __init__(
        self,
        stability: bool,
        tmpdir: Path,
        log_dir: Path,
        n: int,
        max_pixels: int | None,
        budget_mb: float | None = None,
    ) -> None:
        self.stability, self.tmpdir, self.n, self.max_pixels = stability, tmpdir, n, max_pixels
        self.budget_mb = budget_mb
        self.stderr_path = log_dir / f"worker-{n}.stderr"
        self.stderr_seen = 0
        self.peaks: list[float] = []  # the peak RSS (MB) of each process this worker used
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ, TMPDIR=str(self.tmpdir), PYTHONPATH=str(ROOT))
        if self.max_pixels:
            env["PIXELSLEUTH_MAX_PIXELS"] = str(self.max_pixels)
        if self.budget_mb:
            env["PIXELSLEUTH_MEMORY_BUDGET_MB"] = str(self.budget_mb)
        env.pop("PYTHONWARNINGS", None)
        self.stderr = self.stderr_path.open("ab")
        args = [sys.executable, str(Path(__file__).resolve()), "--worker"]
        if not self.stability:
            args.append("--no-stability")
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            cwd=self.tmpdir,
        )
        self.peaks.append(0.0)

    def ask(self, path: Path, timeout: float) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc and self.proc.stdin and self.proc.stdout
        start = time.perf_counter()
        try:
            self.proc.stdin.write((str(path) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.proc = None
            return {"path": str(path), "died": True}
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            return {"path": str(path), "hang": True, "seconds": timeout}
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            code = self.proc.returncode
            self.proc = None
            return {"path": str(path), "died": True, "returncode": code}
        result = json.loads(line)
        result["seconds"] = round(time.perf_counter() - start, 3)
        self.peaks[-1] = max(self.peaks[-1], result.get("maxrss_mb", 0.0))
        return result

    def new_stderr(self) -> str:
        self.stderr.flush()
        size = self.stderr_path.stat().st_size
        if size <= self.stderr_seen:
            return ""
        with self.stderr_path.open("rb") as fh:
            fh.seek(self.stderr_seen)
            text = fh.read(size - self.stderr_seen).decode("utf-8", "replace")
        self.stderr_seen = size
        return text

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Summary:
    files: int = 0
    by_mutation: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)  # analysed / partial / refused
    failures: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def fail(self, kind: str, mutant: Mutant, detail: Any) -> None:
        self.failures.setdefault(kind, []).append(
            {
                "index": mutant.index,
                "seed": mutant.seed_name,
                "mutation": mutant.mutation,
                "detail": detail,
            }
        )


def _kind(data: bytes) -> str:
    for magic, kind in (
        (b"\xff\xd8", "jpeg"),
        (b"\x89PNG", "png"),
        (b"GIF", "gif"),
        (b"RIFF", "webp"),
        (b"II", "tiff"),
        (b"MM", "tiff"),
        (b"BM", "bmp"),
    ):
        if data.startswith(magic):
            return kind
    return "other"


# Over 80 lines: the fuzz loop with its per-case timeout, memory watch and report, which share
# the child process's state.
def run(args: argparse.Namespace) -> dict[str, Any]:
    corpus = Path(args.corpus)
    seeds = {
        **corpus_seeds(corpus, args.max_seed_bytes, args.max_seed_pixels),
        **camera_seeds(corpus, args.cameras),
    }
    seeds.update(generated_seeds())
    names = sorted(seeds)
    big = big_images() if args.big else {}
    work = Path(tempfile.mkdtemp(prefix="pixelsleuth-fuzz-"))
    files_dir, tmp_dir, log_dir = work / "files", work / "tmp", work / "logs"
    for d in (files_dir, tmp_dir, log_dir):
        d.mkdir()
    indices = args.only if args.only else range(args.start, args.start + args.count)
    jobs: list[tuple[Mutant, str]] = [
        (Mutant(-1 - k, name, "big", data), f"big-{k}-{name}")
        for k, (name, data) in enumerate(sorted(big.items()))
    ]
    jobs_lock = threading.Lock()
    index_iter = iter(indices)
    summary = Summary()
    workers = [
        Worker(args.stability, tmp_dir, log_dir, n, args.max_pixels, args.memory_budget_mb)
        for n in range(args.workers)
    ]
    started = time.perf_counter()
    checkpoint: list[Callable[[bool], dict[str, Any]] | None] = [None]
    slowest: list[tuple[float, int, str]] = []

    def next_job() -> tuple[Mutant, str] | None:
        with jobs_lock:
            if jobs:
                return jobs.pop(0)
            i = next(index_iter, None)
            if i is None:
                return None
            mutant = make_mutant(i, args.seed, seeds, names)
            suffix = Path(mutant.seed_name).suffix if mutant.seed_name != "-" else ".png"
            return mutant, f"m{i:06d}{suffix}"

    def drive(worker: Worker) -> None:
        while (job := next_job()) is not None:
            mutant, filename = job
            path = files_dir / filename
            path.write_bytes(mutant.data)
            before = (hashlib.sha256(mutant.data).hexdigest(), path.stat().st_mtime_ns)
            result = worker.ask(path, args.timeout)
            after_data = path.read_bytes()
            after = (hashlib.sha256(after_data).hexdigest(), path.stat().st_mtime_ns)
            noise = worker.new_stderr()
            with jobs_lock:
                summary.files += 1
                summary.by_mutation[mutant.mutation] += 1
                if after != before:
                    summary.fail("input_changed", mutant, filename)
                if result.get("hang"):
                    summary.fail("hang", mutant, f"over {args.timeout} s")
                elif result.get("died"):
                    summary.fail("worker_died", mutant, result.get("returncode"))
                elif "exception" in result:
                    summary.fail("traceback", mutant, result["exception"])
                else:
                    if result["internal"]:
                        summary.fail("internal_error", mutant, result["internal"])
                    if result["class_names"]:
                        summary.fail("class_name_in_message", mutant, result["class_names"])
                    outcome = (
                        "refused"
                        if result["error"]
                        else ("partial" if result.get("partial") else "analysed")
                    )
                    summary.outcomes[outcome] += 1
                    slowest.append((result["seconds"], mutant.index, mutant.mutation))
                    slowest.sort(reverse=True)
                    del slowest[5:]
                if "Traceback" in noise:
                    summary.fail("traceback", mutant, noise[-2000:])
                elif noise.strip():
                    summary.fail("stderr_output", mutant, noise[-500:])
                if args.keep_failures and any(
                    f["index"] == mutant.index for v in summary.failures.values() for f in v
                ):
                    Path(args.keep_failures).mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, Path(args.keep_failures) / filename)
                if args.progress and summary.files % args.progress == 0:
                    if args.out and checkpoint[0]:  # a killed campaign keeps its numbers
                        text = json.dumps(checkpoint[0](False), indent=2)
                        Path(args.out).write_text(text + "\n")
                    print(
                        f"{summary.files} files, {time.perf_counter() - started:.0f} s, "
                        f"failures { ({k: len(v) for k, v in summary.failures.items()}) }",
                        file=sys.stderr,
                        flush=True,
                    )
            path.unlink()

    def summarise(finished: bool) -> dict[str, Any]:
        # files only: torch creates an empty cache folder (torchinductor_<user>) on import
        left = sorted(str(p.relative_to(tmp_dir)) for p in tmp_dir.rglob("*") if not p.is_dir())
        peaks = [p for w in workers for p in w.peaks if p > 0]
        failures = {k: len(v) for k, v in summary.failures.items()}
        return {
            "command": " ".join(sys.argv),
            "finished": finished,
            "seed": args.seed,
            "files": summary.files,
            "seed_files": len(names),
            "seed_formats": dict(sorted(Counter(_kind(seeds[n]) for n in names).items())),
            "stability": args.stability,
            "max_pixels": args.max_pixels,
            "memory_budget_mb": args.memory_budget_mb,
            "timeout_s": args.timeout,
            "workers": args.workers,
            "elapsed_s": round(time.perf_counter() - started, 1),
            "by_mutation": dict(sorted(summary.by_mutation.items())),
            "outcomes": dict(sorted(summary.outcomes.items())),
            "checks": {
                "tracebacks": failures.get("traceback", 0),
                "hangs": failures.get("hang", 0),
                "worker_deaths": failures.get("worker_died", 0),
                "internal_error_findings": failures.get("internal_error", 0),
                "class_names_in_messages": failures.get("class_name_in_message", 0),
                "inputs_changed": failures.get("input_changed", 0),
                "files_with_stderr_output": failures.get("stderr_output", 0),
                "files_left_in_tmpdir": len(left) if finished else 0,
            },
            "peak_rss_mb_per_process": {
                "max": round(max(peaks), 1) if peaks else None,
                "median": round(sorted(peaks)[len(peaks) // 2], 1) if peaks else None,
                "processes": len(peaks),
            },
            "slowest_files": [{"seconds": s, "index": i, "mutation": m} for s, i, m in slowest],
            "left_in_tmpdir": left[:20],
            "failures": {k: v[:25] for k, v in summary.failures.items()},
        }

    checkpoint[0] = summarise
    threads = [threading.Thread(target=drive, args=(w,), daemon=True) for w in workers]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for w in workers:
            w.close()
        return summarise(finished=True)
    finally:  # the mutants are this harness's own files: never leave them behind
        for w in workers:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="number of mutants")
    parser.add_argument("--start", type=int, default=0, help="index of the first mutant")
    parser.add_argument("--only", type=int, nargs="*", help="re-run just these mutant indices")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per file")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--max-seed-bytes", type=int, default=SMALL_SEED_BYTES)
    parser.add_argument("--max-seed-pixels", type=int, default=SMALL_SEED_PIXELS)
    parser.add_argument("--cameras", type=int, default=6, help="camera JPEGs among the seeds")
    parser.add_argument(
        "--max-pixels",
        type=int,
        help="the pixel limit in the workers (PIXELSLEUTH_MAX_PIXELS; default: the tool's)",
    )
    parser.add_argument(
        "--memory-budget-mb",
        type=float,
        help="the memory budget in the workers (PIXELSLEUTH_MEMORY_BUDGET_MB; default: the "
        "tool's, fitted to the machine)",
    )
    parser.add_argument("--big", action="store_true", help="also analyse large images")
    parser.add_argument(
        "--no-stability",
        dest="stability",
        action="store_false",
        help="skip the verdict's re-analysis of perturbed copies (faster)",
    )
    parser.add_argument("--keep-failures", help="copy failing mutants into this folder")
    parser.add_argument("--progress", type=int, default=0, help="print a line every N files")
    parser.add_argument("--out", help="write the JSON summary here (else stdout)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.stability)
        return 0
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that run() cleans up
    summary = run(args)
    text = json.dumps(summary, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    else:
        print(text)
    bad = sum(v for k, v in summary["checks"].items())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
