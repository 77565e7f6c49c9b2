"""Metadata: agreement with ExifTool on real files, and derived evidence on files made here."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import piexif
import pytest
from PIL import Image

from pixelsleuth.analyze import analyze_bytes
from pixelsleuth.forensics.formats.exif import decode_user_comment, parse_exif
from pixelsleuth.forensics.formats.xmp import parse_xmp

from .conftest import corpus_dir, jpeg_bytes, photo_like
from .exiftool_compare import compare


@pytest.mark.skipif(
    shutil.which("exiftool") is None,
    reason="exiftool is not installed (Debian libimage-exiftool-perl; .ci/run installs it)",
)
def test_fields_agree_with_exiftool_on_camera_and_sample_files():
    paths = sorted(corpus_dir("real", "camera").iterdir()) + sorted(
        corpus_dir("metadata", "exiftool-samples").iterdir()
    )
    agree, total, problems = compare(paths)
    print(f"\nExifTool agreement: {agree}/{total} fields = {agree / total:.2%}")
    print("\n".join(problems))
    assert total > 500  # the comparison really covered the corpus
    assert agree / total >= 0.98


def _exif_jpeg(exif: dict, arr: np.ndarray | None = None, thumb: bytes | None = None) -> bytes:
    if thumb is not None:
        exif = {**exif, "thumbnail": thumb, "1st": {piexif.ImageIFD.Compression: 6}}
    arr = photo_like(240, 320) if arr is None else arr
    return jpeg_bytes(arr, exif=piexif.dump(exif))


def _finding(data: bytes, analyzer: str = "metadata"):
    report = analyze_bytes(data, "made.jpg", [analyzer], verdict=False)
    return report.findings[0]


def codes(finding) -> set[str]:
    return {e.code for e in finding.evidence}


def test_camera_dates_gps_and_matching_thumbnail():
    arr = photo_like(240, 320)
    thumb = jpeg_bytes(np.asarray(Image.fromarray(arr).resize((160, 120))), quality=80)
    exif = {
        "0th": {
            piexif.ImageIFD.Make: b"Canon",
            piexif.ImageIFD.Model: b"Canon EOS 5D",
            piexif.ImageIFD.DateTime: b"2024:05:01 10:00:00",
            piexif.ImageIFD.Orientation: 1,
        },
        "Exif": {
            piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 10:00:00",
            piexif.ExifIFD.DateTimeDigitized: b"2024:05:01 10:00:00",
            piexif.ExifIFD.MakerNote: b"CanonNotes" * 10,
            piexif.ExifIFD.PixelXDimension: 320,
            piexif.ExifIFD.PixelYDimension: 240,
        },
        "GPS": {
            piexif.GPSIFD.GPSLatitudeRef: b"S",
            piexif.GPSIFD.GPSLatitude: ((33, 1), (51, 1), (3564, 100)),
            piexif.GPSIFD.GPSLongitudeRef: b"E",
            piexif.GPSIFD.GPSLongitude: ((151, 1), (12, 1), (3000, 100)),
        },
    }
    f = _finding(_exif_jpeg(exif, arr, thumb))
    assert codes(f) >= {"camera_named", "makernote_present", "dates_consistent"}
    assert not codes(f) & {"editor_software", "dimensions_changed"}
    assert f.details["thumbnail"]["present"] is True
    assert codes(_finding(_exif_jpeg(exif, arr, thumb), "thumbnail")) == {"thumbnail_match"}
    assert f.score < 0.5
    gps = f.details["gps"]
    assert gps["latitude"] == pytest.approx(-(33 + 51 / 60 + 35.64 / 3600), abs=1e-7)
    assert gps["longitude"] == pytest.approx(151 + 12 / 60 + 30 / 3600, abs=1e-7)
    assert f.details["camera"]["model"] == "Canon EOS 5D"
    assert f.details["exif"]["0th"]["Make"] == "Canon"


def test_edited_photo_evidence():
    arr = photo_like(240, 320)
    other = np.ascontiguousarray(np.rot90(photo_like(320, 240, seed=7)))  # another scene
    thumb = jpeg_bytes(np.asarray(Image.fromarray(other).resize((160, 120))))
    exif = {
        "0th": {
            piexif.ImageIFD.Make: b"NIKON CORPORATION",
            piexif.ImageIFD.Model: b"NIKON D70",
            piexif.ImageIFD.Software: b"Adobe Photoshop 25.0 (Windows)",
            piexif.ImageIFD.DateTime: b"2024:06:03 09:00:00",
        },
        "Exif": {
            piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 10:00:00",
            piexif.ExifIFD.DateTimeDigitized: b"2024:04:01 08:00:00",
            piexif.ExifIFD.PixelXDimension: 3008,
            piexif.ExifIFD.PixelYDimension: 2000,
        },
    }
    f = _finding(_exif_jpeg(exif, arr, thumb))
    assert codes(f) >= {
        "editor_software",
        "dates_disagree",
        "modified_after_capture",
        "dimensions_changed",
        "makernote_missing",
    }
    assert f.score >= 0.75  # editing software leads, now that the preview is compared apart
    t = _finding(_exif_jpeg(exif, arr, thumb), "thumbnail")
    assert codes(t) == {"thumbnail_mismatch"} and t.score >= 0.8
    assert "preview" in t.summary


def test_thumbnail_of_other_shape_is_a_mismatch():
    thumb = jpeg_bytes(photo_like(160, 90))  # portrait preview of a landscape image
    f = _finding(_exif_jpeg({"0th": {piexif.ImageIFD.Make: b"Sony"}}, None, thumb), "thumbnail")
    assert f.details["matches"] is False
    assert "shape" in f.details["reason"]


def test_ai_tool_named_as_software():
    f = _finding(_exif_jpeg({"0th": {piexif.ImageIFD.Software: b"Adobe Firefly"}}))
    assert "ai_software" in codes(f)


def test_user_comment_byte_orders():
    text = "photo of a duck\nSteps: 5"
    be = b"UNICODE\x00" + text.encode("utf-16-be")
    le = b"UNICODE\x00" + text.encode("utf-16-le")
    assert decode_user_comment(be, "little-endian") == text
    assert decode_user_comment(le, "big-endian") == text
    assert decode_user_comment(b"ASCII\x00\x00\x00" + b"hello") == "hello"


def test_xmp_is_flattened_and_entities_are_refused():
    packet = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
      xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
      <rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/"
        xmlns:dc="http://purl.org/dc/elements/1.1/" xmp:CreatorTool="GIMP 2.10">
        <dc:subject><rdf:Bag><rdf:li>a</rdf:li><rdf:li>b</rdf:li></rdf:Bag></dc:subject>
      </rdf:Description></rdf:RDF></x:xmpmeta>"""
    props, err = parse_xmp(packet)
    assert err is None
    assert props["xmp:CreatorTool"] == "GIMP 2.10"
    assert props["dc:subject"] == ["a", "b"]
    bomb = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">
      <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
      <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
      xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">&b;</rdf:RDF></x:xmpmeta>"""
    props, err = parse_xmp(bomb[bomb.index(b"<x:xmpmeta") - 200 :])
    assert props == {} and err is not None


def test_exif_loops_and_wild_offsets_end_in_warnings():
    # IFD0 with one entry whose next-IFD pointer points back at itself
    data = bytearray(b"II*\x00\x08\x00\x00\x00")
    data += b"\x01\x00" + b"\x0f\x01\x02\x00\x05\x00\x00\x00" + b"\x1a\x00\x00\x00"  # Make
    data += b"\x08\x00\x00\x00"  # next IFD = 8: a loop
    data += b"Sony\x00\x00"
    exif = parse_exif(bytes(data))
    assert exif.get("0th", 0x010F) == "Sony"
    assert any("loop" in w for w in exif.warnings)
    wild = bytearray(b"MM\x00*\x00\x00\x00\x08\x00\x01")
    wild += b"\x01\x0f\x00\x02\x00\x00\x01\x00\xff\xff\xff\x00\x00\x00\x00\x00"
    exif = parse_exif(bytes(wild))
    assert exif.ifds["0th"] == {}
    assert any("outside" in w for w in exif.warnings)


def test_png_text_and_icc_are_reported(tmp_path: Path):
    from PIL import ImageCms, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "GIMP 2.10.34")
    info.add_itxt("Comment", "über", zip=True)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    Image.fromarray(photo_like()).save(buf, "PNG", pnginfo=info, icc_profile=icc)
    report = analyze_bytes(buf.getvalue(), "x.png", ["metadata"])
    f = report.findings[0]
    assert f.details["png_text"]["Comment"] == "über"
    assert f.details["fields"]["Software"] == "GIMP 2.10.34"
    assert "editor_software" in codes(f)
    assert f.details["icc"]["valid"] and "sRGB" in f.details["icc"]["description"]


# Checked by eye: the main image is a crop of what the EXIF preview shows.
VISIBLY_CROPPED = {"Nikon E5000.jpg", "Olympus E-10.jpg"}


def test_thumbnails_of_real_camera_photos_match_unless_visibly_cropped():
    mismatches, compared = set(), 0
    for path in sorted(corpus_dir("real", "camera").glob("*.jpg")):
        report = analyze_bytes(path.read_bytes(), path.name, ["thumbnail"], verdict=False)
        thumb = report.findings[0].details
        if thumb.get("matches") is None:
            continue
        compared += 1
        if not thumb["matches"]:
            mismatches.add(path.name.split("__")[-1])
    print(f"\nthumbnails compared: {compared}, mismatches: {sorted(mismatches)}")
    assert compared >= 40
    assert mismatches == VISIBLY_CROPPED


def test_letterboxed_thumbnail_of_a_wide_photo_matches():
    arr = photo_like(200, 300)  # 3:2
    small = np.asarray(Image.fromarray(arr).resize((160, 107)))
    boxed = np.zeros((120, 160, 3), np.uint8)
    boxed[6:113] = small
    f = _finding(
        _exif_jpeg({"0th": {piexif.ImageIFD.Make: b"Canon"}}, arr, jpeg_bytes(boxed)), "thumbnail"
    )
    assert f.details["matches"] is True


def test_webp_exif_and_xmp_chunks_are_read():
    exif = piexif.dump(
        {"0th": {piexif.ImageIFD.Make: b"Google", piexif.ImageIFD.Model: b"Pixel 8"}}
    )
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        b'22-rdf-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        b'xmp:CreatorTool="Snapseed 2.0"/></rdf:RDF></x:xmpmeta>'
    )
    buf = io.BytesIO()
    Image.fromarray(photo_like()).save(buf, "WEBP", quality=80, exif=exif, xmp=xmp)
    f = analyze_bytes(buf.getvalue(), "x.webp", ["metadata"]).findings[0]
    assert f.details["exif_container"] == "WebP EXIF chunk"
    assert (f.details["fields"]["Make"], f.details["fields"]["Model"]) == ("Google", "Pixel 8")
    assert f.details["fields"]["CreatorTool"] == "Snapseed 2.0"
    assert "editor_software" in codes(f)


# -- HEIF/HEIC/AVIF and JPEG XL ----------------------------------------------------------------

_XMP = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Été camera app"/>'
    '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def _phone_photo(fmt: str) -> bytes:
    """A photo saved by Pillow's HEIF/AVIF/JXL plugin with EXIF (camera, GPS) and XMP."""
    from pixelsleuth.imageio import OPTIONAL_FORMATS

    if fmt not in OPTIONAL_FORMATS:
        pytest.skip(f"no Pillow plugin for {fmt} is installed (pillow-heif, pillow-jxl-plugin)")
    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"Apple", piexif.ImageIFD.Model: b"iPhone 15 Pro"},
            "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 10:20:30"},
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((48, 1), (51, 1), (30, 1)),
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: ((2, 1), (17, 1), (40, 1)),
            },
        }
    )
    buf = io.BytesIO()
    Image.fromarray(photo_like(300, 400)).save(buf, fmt, exif=exif, xmp=_XMP.encode(), quality=90)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF", "JXL"])
def test_heif_avif_and_jpeg_xl_are_analysed_with_their_metadata(fmt):
    data = _phone_photo(fmt)
    report = analyze_bytes(data, f"phone.{fmt.lower()}", analyzers=["metadata", "integrity"])
    assert report.error is None, report.error
    assert report.file.format == fmt and (report.file.width, report.file.height) == (400, 300)
    meta = report.finding("metadata")
    fields = meta.details["fields"]
    assert (fields["Make"], fields["Model"]) == ("Apple", "iPhone 15 Pro")
    assert fields["DateTimeOriginal"] == "2024:05:01 10:20:30"
    assert fields["CreatorTool"] == "Été camera app"  # the XMP item/box
    gps = meta.details["gps"]
    assert abs(gps["latitude"] - (48 + 51 / 60 + 30 / 3600)) < 1e-6
    assert abs(gps["longitude"] - (2 + 17 / 60 + 40 / 3600)) < 1e-6
    assert "malformed" not in meta.summary


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
def test_heic_exif_agrees_with_exiftool(tmp_path):
    path = tmp_path / "phone.heic"
    path.write_bytes(_phone_photo("HEIF"))
    agree, total, problems = compare([path])
    assert total >= 6 and agree == total, problems


def test_corpus_heic_and_jxl_samples_are_read_with_their_metadata():
    """ExifTool's own HEIC and JPEG XL test files (headers and metadata, no full pixel data):
    identified with their size; JXL2's Brotli-compressed EXIF and XMP boxes are read."""
    samples = corpus_dir("metadata", "exiftool-samples")
    heic = samples / "exiftool+exiftool__t__images__QuickTime.heic"
    report = analyze_bytes(heic.read_bytes(), heic.name, analyzers=["metadata", "integrity"])
    assert (report.file.format, report.file.width, report.file.height) == ("HEIF", 1596, 1064)
    assert report.finding("metadata") is not None
    jxl = samples / "exiftool+exiftool__t__images__JXL2.jxl"
    from pixelsleuth.forensics.formats.containers import read_containers

    found = read_containers(jxl.read_bytes())
    assert found.kind == "jxl" and found.exif_container == "JXL brob box (Exif, Brotli)"
    exif = parse_exif(found.exif)
    assert exif.named() and not exif.warnings
    props, error = parse_xmp(found.xmp[0])
    assert error is None and props
    # through the analyzer too: a damaged JPEG XL whose metadata is still reported, in words
    report = analyze_bytes(jxl.read_bytes(), jxl.name, analyzers=["metadata", "integrity"])
    assert report.file.format == "JXL" and "damaged JXL file" in (report.error or "")
    assert "libjxl" not in report.error
    metadata = report.finding("metadata")
    assert metadata is not None and metadata.error is None
    assert "ExifTool test" in json.dumps(metadata.details)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_xmp_are_valid_not_malformed(encoding):
    props, error = parse_xmp(_XMP.encode(encoding))
    assert error is None and props["xmp:CreatorTool"] == "Été camera app"
    # and in a JPEG, where the analyzer used to call it careless rewriting
    body = b"http://ns.adobe.com/xap/1.0/\x00" + _XMP.encode(encoding)
    jpeg = jpeg_bytes(photo_like())
    app1 = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    report = analyze_bytes(jpeg[:2] + app1 + jpeg[2:], "x.jpg", analyzers=["metadata"])
    meta = report.finding("metadata")
    assert meta.details["fields"]["CreatorTool"] == "Été camera app"
    assert not any(e.code == "metadata_damaged" for e in meta.evidence)


# -- the complete dump (`pixelsleuth metadata`) ------------------------------------------------


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
def test_dump_covers_exiftools_exif_gps_xmp_and_iptc_tags_by_name_and_value(tmp_path):
    """scripts/metadata_coverage.py against `exiftool -j -G1 -n -a` on the corpus's camera
    JPEGs and ExifTool's samples: at least 95 % of their EXIF/GPS/XMP/IPTC tags present under
    the same group and name, and 95 % with the same value."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "coverage.json"
    subprocess.run(
        [
            sys.executable,
            str(root / "scripts" / "metadata_coverage.py"),
            str(corpus_dir("real", "camera")),
            str(corpus_dir("metadata", "exiftool-samples")),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    result = json.loads(out.read_text())
    assert result["files"] >= 100 and result["tags"] >= 4000
    assert result["present_by_name_fraction"] >= 0.95, result["most_missed"][:10]
    assert result["same_value_fraction"] >= 0.95, result["most_different"][:10]


def test_dump_gives_the_xmp_edit_history_as_a_timeline():
    from pixelsleuth.metadump import dump_metadata

    photo = (
        corpus_dir("real", "camera") / "drewnoakes+metadata-extractor-images__jpg__Canon EOS 7D.jpg"
    )
    found = dump_metadata(photo.read_bytes())
    assert [h.when for h in found.history] == [
        "2010-12-14T20:14:39+01:00",
        "2010-12-17T21:49:45+01:00",
        "2010-12-17T21:56:17+01:00",
    ]
    assert all(h.action == "saved" for h in found.history)
    assert all(h.software == "Adobe Photoshop CS4 Windows" for h in found.history)
    tags = found.to_dict()
    assert tags["IFD0:Model"] == "Canon EOS 7D" and tags["ExifIFD:ISO"] == 200
    assert tags["IPTC:Headline"] == "Titel - Kyra"
    assert "XMP edit history:" in found.table()


def test_metadata_command_prints_a_table_and_json_and_never_changes_the_file(tmp_path):
    import json

    from .conftest import file_state
    from .test_bad_input import run_cli

    photo = corpus_dir("metadata", "exiftool-samples") / "exiftool+exiftool__t__images__IPTC.jpg"
    before = file_state(photo)
    table = run_cli("metadata", str(photo))
    assert table.returncode == 0, table.stderr
    assert "[IPTC]          By-line" in table.stdout and "Phil Harvey" in table.stdout
    record = json.loads(run_cli("metadata", "--json", str(photo)).stdout)
    assert record["IPTC:Credit"] == "My Credit" and record["IPTC:DateCreated"] == "2004:02:26"
    assert file_state(photo) == before
    missing = run_cli("metadata", str(tmp_path / "nope.jpg"))
    assert missing.returncode == 1 and "no such file" in missing.stderr


# -- MakerNotes --------------------------------------------------------------------------------

MAKERNOTE_FILES = {  # maker (ExifTool's group) -> corpus files of that make
    "Canon": [
        ("metadata/exiftool-samples", "exiftool+exiftool__t__images__Canon.jpg"),
        ("real/camera", "drewnoakes+metadata-extractor-images__jpg__Canon PowerShot A720 IS.jpg"),
    ],
    "Nikon": [
        ("metadata/exiftool-samples", "exiftool+exiftool__t__images__Nikon.jpg"),
        ("metadata/exiftool-samples", "exiftool+exiftool__t__images__NikonD70.jpg"),
    ],
    "Sony": [("real/camera", "drewnoakes+metadata-extractor-images__jpg__Sony DSC-HX5V (2).jpg")],
    "FujiFilm": [("metadata/exiftool-samples", "exiftool+exiftool__t__images__FujiFilm.jpg")],
    "Olympus": [
        ("metadata/exiftool-samples", "exiftool+exiftool__t__images__Olympus.jpg"),
        ("metadata/exiftool-samples", "exiftool+exiftool__t__images__OlympusE1.jpg"),
        ("real/camera", "drewnoakes+metadata-extractor-images__jpg__Olympus PEN E-P3.jpg"),
    ],
    "Panasonic": [("metadata/exiftool-samples", "exiftool+exiftool__t__images__Panasonic.jpg")],
    "Apple": [("metadata/exiftool-samples", "exiftool+exiftool__t__images__Apple.jpg")],
}


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
@pytest.mark.parametrize("maker", sorted(MAKERNOTE_FILES))
def test_makernote_fields_agree_with_exiftool(maker):
    """Every MakerNote field the dump names for this maker is one ExifTool names the same in
    the same group, with the same value (exiftool -j -G1 -n)."""
    import json
    import math
    import subprocess

    from pixelsleuth.metadump import dump_metadata

    for folder, name in MAKERNOTE_FILES[maker]:
        path = corpus_dir(*folder.split("/")) / name
        ours = {t.name: t.value for t in dump_metadata(path.read_bytes()).tags if t.group == maker}
        proc = subprocess.run(
            ["exiftool", "-j", "-G1", "-n", "-a", str(path)], capture_output=True, check=True
        )
        theirs = json.loads(proc.stdout)[0]
        assert len(ours) >= 5, (name, ours)
        for field_name, value in ours.items():
            reference = theirs.get(f"{maker}:{field_name}")
            assert reference is not None, (name, field_name, value)
            try:
                same = math.isclose(float(value), float(reference), rel_tol=1e-6)
            except (TypeError, ValueError):
                same = str(value).strip() == str(reference).strip()
            assert same, (name, field_name, value, reference)


def test_makernote_decoding_survives_damage():
    """A MakerNote cut short or pointing outside the EXIF ends in a warning, not an error."""
    from pixelsleuth.forensics.formats.makernotes import decode_makernote

    exif_block = b"MM\x00*\x00\x00\x00\x08" + b"\x00" * 8
    for note in (b"Nikon\x00\x02\x10\x00\x00MM\x00*\xff\xff\xff\xff", b"FUJIFILM\xff\xff\xff\x7f"):
        tiff = exif_block + note
        found = decode_makernote(tiff, note, "x")
        assert found is not None and not [k for k in found.fields if not k.startswith("_")]
    assert decode_makernote(exif_block + b"\x00\x05junk", b"\x00\x05junk", "Canon") is not None
