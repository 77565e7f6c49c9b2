"""Damaged, truncated, enormous, non-image and hostile inputs: a clear message, never a
traceback or a hang, and the input's bytes untouched."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import piexif
import pytest

from pixelsleuth.analyze import analyze_file

from .conftest import corpus_dir, file_state, jpeg_bytes, photo_like

TIMEOUT_S = 60  # generous for a slow CI machine; a hang would blow far past it


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pixelsleuth", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _png(width: int, height: int, extra: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x80" * 3 * min(width, 4))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + extra
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_with_wild_exif() -> bytes:
    exif = bytearray(
        piexif.dump(
            {
                "0th": {piexif.ImageIFD.Make: b"Canon", piexif.ImageIFD.Model: b"X" * 40},
                "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2020:01:01 00:00:00"},
            }
        )
    )
    tiff = exif.index(b"MM") if b"MM" in exif[:12] else exif.index(b"II")
    # point every value offset of IFD0 far outside the block, and IFD1 too
    count = struct.unpack(">H", exif[tiff + 8 : tiff + 10])[0]
    for i in range(count):
        entry = tiff + 10 + 12 * i
        exif[entry + 8 : entry + 12] = b"\x7f\xff\xff\xf0"
    exif[tiff + 10 + 12 * count : tiff + 14 + 12 * count] = b"\x7f\xff\xff\xf0"
    return jpeg_bytes(photo_like(), exif=bytes(exif))


@pytest.fixture(scope="module")
def malformed(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("malformed")
    camera = sorted(corpus_dir("real", "camera").glob("*.jpg"))[0].read_bytes()
    files = {
        "truncated.jpg": camera[: len(camera) // 2],
        "zero.jpg": b"",
        "random.jpg": os.urandom(4096),
        "huge-header.png": _png(100_000, 100_000),
        "wild-exif.jpg": _jpeg_with_wild_exif(),
        # 64 MB of zeros in a compressed text chunk: must be cut, not inflated
        "ztxt-bomb.png": _png(
            4, 4, _png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9))
        ),
        "deep-json.png": _png(4, 4, _png_chunk(b"tEXt", b"prompt\x00" + b"[" * 200_000)),
        "sof-huge.jpg": _jpeg_sof_dims(jpeg_bytes(photo_like()), 65000, 65000),
    }
    paths = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths[name] = folder / name
    return paths


def _jpeg_sof_dims(data: bytes, width: int, height: int) -> bytes:
    sof = data.index(b"\xff\xc0")
    out = bytearray(data)
    out[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def test_each_malformed_input_gives_a_clear_result(malformed):
    expectations = {
        "zero.jpg": ("error", "empty"),
        "random.jpg": ("error", "not a recognised image"),
        "huge-header.png": ("error", "bomb"),
        "sof-huge.jpg": ("error", "exceeds the limit"),
        "ztxt-bomb.png": ("error", "decompression bomb"),
    }
    for name, path in malformed.items():
        report = analyze_file(path)
        if name in expectations:
            _, words = expectations[name]
            assert report.error and words in report.error, (name, report.error)
        elif name == "truncated.jpg":
            integrity = report.finding("integrity")
            assert integrity.details["decodes"] is False
            assert "damaged" in integrity.summary
        elif name == "wild-exif.jpg":
            meta = report.finding("metadata")
            assert any("outside" in w for w in meta.details["warnings"])
            assert any(e.code == "metadata_damaged" for e in meta.evidence)
        elif name == "deep-json.png":
            assert report.finding("generator-metadata").error is None
        json.dumps(report.to_dict())  # always serialisable


def test_cli_never_shows_a_traceback_and_never_writes_inputs(malformed):
    bad = corpus_dir("broken", "bad-files")
    paths = sorted(bad.iterdir()) + list(malformed.values())
    before = {p: file_state(p) for p in paths}
    for path in paths:
        proc = run_cli("analyze", "--json", str(path))
        assert "Traceback" not in proc.stderr, (path, proc.stderr)
        assert proc.returncode in (0, 1), (path, proc.returncode, proc.stderr)
        report = json.loads(proc.stdout)
        if proc.returncode == 1:
            # exactly one clear line per failed file
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith("pixelsleuth: "), proc.stderr
            assert report["error"]
    assert {p: file_state(p) for p in paths} == before


def test_compressed_text_is_inflated_only_up_to_the_cap():
    from pixelsleuth.forensics.formats.containers import MAX_TEXT_BYTES, read_containers

    bomb = _png(4, 4, _png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * (64 << 20), 9)))
    c = read_containers(bomb)
    (chunk,) = c.text_chunks
    assert len(chunk.text) == MAX_TEXT_BYTES
    assert any("was cut" in w for w in c.warnings)


def test_fifo_and_directory_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    proc = run_cli("analyze", str(fifo), str(tmp_path))
    assert proc.returncode == 1
    assert "not a regular file" in proc.stderr
    assert "is a directory" in proc.stderr


def test_pixel_limit_is_configurable(tmp_path):
    path = tmp_path / "small.jpg"
    path.write_bytes(jpeg_bytes(photo_like(96, 128)))
    proc = run_cli("analyze", "--max-pixels", "1000", str(path))
    assert proc.returncode == 1
    assert "exceeds the limit" in proc.stderr or "limit" in proc.stderr
    assert run_cli("analyze", str(path)).returncode == 0
