"""Damaged, truncated, enormous, non-image and hostile inputs: a clear message, never a
traceback or a hang, and the input's bytes untouched."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import piexif
import pytest
from PIL import Image

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
            assert integrity.details["decodes"] == "partly" and report.file.partial
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


# -- damage is damage -------------------------------------------------------------------------

PIXEL_ANALYZERS = ("jpeg", "ela", "ghost", "noise", "copy-move", "spectrum", "detector")


def _ten_cameras() -> list[Path]:
    """Camera JPEGs of ten name prefixes (mostly makes; the first of each) whose pixel data
    starts before the middle of the file: a FLIR's thermal metadata fills more than half of
    it, so a cut there is a cut inside the header (tested below)."""
    from pixelsleuth.forensics.formats.containers import read_jpeg_structure

    by_make: dict[str, Path] = {}
    for path in sorted(corpus_dir("real", "camera").glob("*.jpg")):
        make = path.name.split("__")[-1].split()[0]
        data = path.read_bytes()
        scans = read_jpeg_structure(data)[0].of(0xDA)
        if make not in by_make and scans and scans[0].offset < 0.45 * len(data):
            by_make[make] = path
    assert len(by_make) >= 10, sorted(by_make)
    return [by_make[m] for m in sorted(by_make)[:10]]


@pytest.mark.parametrize("fraction", [0.5, 0.8])
def test_truncated_camera_jpegs_are_damaged_and_analysed_on_their_readable_part(fraction, tmp_path):
    for camera in _ten_cameras():
        data = camera.read_bytes()
        path = tmp_path / camera.name
        path.write_bytes(data[: int(len(data) * fraction)])
        report = analyze_file(path, stability=False)
        assert report.error is None and report.file.partial, (camera.name, report.error)
        integrity = report.finding("integrity")
        assert integrity.summary.startswith("The file is damaged and only partly readable")
        assert integrity.details["decodes"] == "partly"
        rows, height = integrity.details["decoded_rows"], report.file.height
        assert 0 < rows < height, (camera.name, rows, height)
        assert f"{rows} of {height} rows" in integrity.summary
        assert any("Premature end" in w for w in integrity.details["decoder_warnings"])
        for name in PIXEL_ANALYZERS:
            finding = report.finding(name)
            assert finding is not None and finding.error is None, (camera.name, name, finding)
        assert report.finding("ela").heatmaps[0].data.shape[0] <= rows  # the decoded part only


def test_a_jpeg_cut_inside_its_metadata_is_damaged_not_unrecognised(tmp_path):
    camera = _ten_cameras()[0].read_bytes()
    exif_end = 4 + int.from_bytes(camera[4:6], "big")  # the APP1 segment after SOI
    path = tmp_path / "cut.jpg"
    path.write_bytes(camera[: exif_end // 2])
    report = analyze_file(path, stability=False)
    assert report.error.startswith("a damaged JPEG file, only partly readable")
    assert "ends inside its header" in report.error
    assert "recognised" not in report.error and "Error" not in report.error
    assert report.file.format == "JPEG"
    metadata = report.finding("metadata")  # the metadata that is there is still read
    assert metadata is not None and metadata.error is None
    assert report.finding("integrity").summary.startswith("The file is a damaged JPEG file")


def test_library_warnings_go_into_the_report_not_onto_stderr(tmp_path):
    camera = _ten_cameras()[1].read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(camera[: len(camera) // 2])
    proc = run_cli("analyze", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr
    integrity = next(f for f in json.loads(proc.stdout)["findings"] if f["analyzer"] == "integrity")
    assert any("Premature end of JPEG file" in w for w in integrity["details"]["decoder_warnings"])
    assert json.loads(proc.stdout)["file"]["partial"] is True


def test_tiny_images_get_an_abstention_not_an_internal_error(tmp_path):
    tiny = corpus_dir("metadata", "exiftool-samples") / "exiftool+exiftool__t__images__Canon.jpg"
    report = analyze_file(tiny, stability=False)
    assert (report.file.width, report.file.height) == (8, 8)
    assert [f.analyzer for f in report.findings if f.error] == []
    noise = report.finding("noise")
    assert noise.score is None and "too small" in noise.summary
    one = tmp_path / "one.png"
    Image.new("RGB", (1, 1)).save(one)
    assert [f.error for f in analyze_file(one, stability=False).findings if f.error] == []


def _jpeg_with_make_as_numbers() -> bytes:
    """EXIF whose Make entry has type SHORT (numbers) where text belongs."""
    exif = bytearray(piexif.dump({"0th": {piexif.ImageIFD.Make: b"Canon"}}))
    tiff = exif.index(b"MM") if b"MM" in exif[:12] else exif.index(b"II")
    order = ">" if exif[tiff : tiff + 2] == b"MM" else "<"
    entry = tiff + 10  # the first (only) entry of IFD0
    assert struct.unpack(order + "H", exif[entry : entry + 2])[0] == piexif.ImageIFD.Make
    exif[entry + 2 : entry + 8] = struct.pack(order + "HI", 3, 2)  # two SHORTs, stored inline
    return jpeg_bytes(photo_like(), exif=bytes(exif))


def test_an_exif_entry_of_the_wrong_type_is_reported_not_raised(tmp_path):
    path = tmp_path / "make-as-numbers.jpg"
    path.write_bytes(_jpeg_with_make_as_numbers())
    report = analyze_file(path, stability=False)
    assert [f.error for f in report.findings if f.error] == []
    metadata = report.finding("metadata")
    assert any("Make (0x010F) is stored as SHORT" in w for w in metadata.details["warnings"]), (
        metadata.details
    )
    assert any(e.code == "metadata_damaged" for e in metadata.evidence)


def test_corrupt_content_credentials_are_reported_as_damaged(tmp_path):
    base = jpeg_bytes(photo_like())
    label = b"c2pa\x00"
    desc = struct.pack(">I", 8 + 16 + 1 + len(label)) + b"jumdc2pa" + b"\x00" * 12 + b"\x03" + label
    box = desc + struct.pack(">I", 8 + 40) + b"json" + os.urandom(40)
    body = b"JP" + struct.pack(">HI", 1, 1) + struct.pack(">I", 8 + len(box)) + b"jumb" + box
    app11 = b"\xff\xeb" + struct.pack(">H", len(body) + 2) + body
    path = tmp_path / "corrupt-c2pa.jpg"
    path.write_bytes(base[:2] + app11 + base[2:])
    finding = analyze_file(path, ["provenance"], verdict=False).finding("provenance")
    assert finding.details["c2pa"]["state"] == "unreadable"
    assert "corrupt or damaged" in finding.summary
    assert "No Content Credentials" not in finding.summary


def test_a_missing_weights_path_is_an_error_in_words_and_never_downloaded(tmp_path, monkeypatch):
    import huggingface_hub

    from pixelsleuth.detectors import analyzer

    def no_network(*args, **kwargs):
        raise AssertionError("a local path reached the hub")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    monkeypatch.setenv("PIXELSLEUTH_DETECTOR_WEIGHTS", "org/mistyped-weights")
    analyzer.load_detector.cache_clear()
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_bytes(photo_like(300, 300)))
    finding = analyze_file(path, ["detector"], verdict=False).finding("detector")
    assert "org/mistyped-weights do not exist" in finding.error
    assert "hf:org/name" in finding.error and "internal error" not in finding.error
    monkeypatch.setenv("PIXELSLEUTH_DETECTOR_WEIGHTS", "hf:org/name")
    analyzer.load_detector.cache_clear()
    with pytest.raises(AssertionError, match="reached the hub"):  # the explicit form does
        analyzer.load_detector("hf:org/name")
    analyzer.load_detector.cache_clear()


# -- nothing left behind ----------------------------------------------------------------------

_ANALYSE_FOREVER = """
import sys
from pixelsleuth.analyze import analyze_file
analyze_file(sys.argv[1], ["jpeg"], verdict=False)  # warm: imports done
print("ready", flush=True)
while True:
    analyze_file(sys.argv[1], ["jpeg"], verdict=False)
"""


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if not p.is_dir()]  # torch may leave an empty cache dir


def test_no_file_is_left_in_the_temporary_folder_even_after_a_kill(tmp_path):
    camera = _ten_cameras()[0]
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir), PYTHONPATH=str(Path(__file__).parent.parent))
    done = subprocess.run(
        [sys.executable, "-m", "pixelsleuth", "analyze", "--json", str(camera)],
        env=env,
        capture_output=True,
        timeout=TIMEOUT_S * 2,
    )
    assert done.returncode == 0 and _files_under(tmpdir) == []
    # the jpeg analyzer reads DCT coefficients through jpeglib over and over; kill it mid-way
    proc = subprocess.Popen(
        [sys.executable, "-c", _ANALYSE_FOREVER, str(camera)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout.readline().strip() == b"ready"
        seen: list[Path] = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:  # look while it works: nothing ever appears
            seen += _files_under(tmpdir)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert seen == [] and _files_under(tmpdir) == []


def test_a_side_over_jpegs_maximum_is_an_abstention_not_an_internal_error(tmp_path, capfd):
    path = tmp_path / "sliver.png"
    Image.new("L", (66_000, 4), 90).save(path)
    report = analyze_file(path, stability=False)
    assert capfd.readouterr().err.strip() == ""  # libjpeg's complaint is not printed
    assert not [f for f in report.findings if (f.error or "").startswith("internal")]
    assert "65,500" in report.finding("ela").error
