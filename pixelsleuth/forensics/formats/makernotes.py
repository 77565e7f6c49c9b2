"""Parsing: the common fields of camera makers' private EXIF notes (MakerNote) for Canon, Nikon,
Sony, Fujifilm, Olympus/OM System, Panasonic and Apple, named as ExifTool names them.

Each maker stores an IFD, with its own header, byte order and offset base (from the EXIF's
TIFF header, or from the note itself); every offset is checked by the same TIFF reader as the
EXIF, so a damaged note ends in a warning. Tags without a name here are kept as 0xNNNN.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from pixelsleuth.forensics.formats.exif import _TiffReader

CANON = {
    0x0006: "CanonImageType",
    0x0007: "CanonFirmwareVersion",
    0x0009: "OwnerName",
    0x000C: "SerialNumber",
    0x0010: "CanonModelID",
    0x0095: "LensModel",
}
# Canon CameraSettings (tag 0x0001): ExifTool's index → name; the values are signed shorts
CANON_CAMERA_SETTINGS = {
    1: "MacroMode",
    2: "SelfTimer",
    3: "Quality",
    4: "CanonFlashMode",
    5: "ContinuousDrive",
    7: "FocusMode",
    9: "RecordMode",
    10: "CanonImageSize",
    11: "EasyMode",
    12: "DigitalZoom",
    13: "Contrast",
    14: "Saturation",
    15: "Sharpness",
}
NIKON = {
    0x0001: "MakerNoteVersion",
    0x0002: "ISO",
    0x0003: "ColorMode",
    0x0004: "Quality",
    0x0005: "WhiteBalance",
    0x0006: "Sharpness",
    0x0007: "FocusMode",
    0x0008: "FlashSetting",
    0x0009: "FlashType",
    0x000F: "ISOSelection",
    0x001D: "SerialNumber",
    0x0080: "ImageAdjustment",
    0x0081: "ToneComp",
    0x0082: "AuxiliaryLens",
    0x0084: "Lens",
    0x0085: "ManualFocusDistance",
    0x0086: "DigitalZoom",
    0x00A7: "ShutterCount",
}
SONY = {
    0x0102: "Quality",
    0x0104: "FlashExposureComp",
    0x0115: "WhiteBalance",
    0xB020: "CreativeStyle",
    0xB021: "ColorTemperature",
    0xB027: "LensType",
    0xB040: "Macro",
    0xB041: "ExposureMode",
    0xB042: "FocusMode",
    0xB043: "AFAreaMode",
    0xB044: "AFIlluminator",
    0xB047: "JPEGQuality",
    0xB048: "FlashLevel",
    0xB049: "ReleaseMode",
    0xB04A: "SequenceNumber",
    0xB04B: "Anti-Blur",
    0xB04F: "DynamicRangeOptimizer",
    0xB052: "IntelligentAuto",
    0xB054: "WhiteBalance",
}
FUJIFILM = {
    0x0000: "Version",
    0x0010: "InternalSerialNumber",
    0x1000: "Quality",
    0x1001: "Sharpness",
    0x1002: "WhiteBalance",
    0x1003: "Saturation",
    0x1004: "Contrast",
    0x1010: "FujiFlashMode",
    0x1011: "FlashExposureComp",
    0x1020: "Macro",
    0x1021: "FocusMode",
    0x1030: "SlowSync",
    0x1031: "PictureMode",
    0x1100: "AutoBracketing",
    0x1300: "BlurWarning",
    0x1301: "FocusWarning",
    0x1302: "ExposureWarning",
    0x1401: "FilmMode",
}
OLYMPUS = {
    0x0200: "SpecialMode",
    0x0201: "Quality",
    0x0202: "Macro",
    0x0203: "BWMode",
    0x0204: "DigitalZoom",
    0x0205: "FocalPlaneDiagonal",
    0x0206: "LensDistortionParams",
    0x0207: "CameraType",
    0x0209: "CameraID",
}
OLYMPUS_EQUIPMENT = {  # the Equipment sub-IFD (tag 0x2010) of newer bodies
    0x0100: "CameraType2",
    0x0101: "SerialNumber",
    0x0102: "InternalSerialNumber",
    0x0201: "LensType",
    0x0202: "LensSerialNumber",
    0x0203: "LensModel",
}
PANASONIC = {
    0x0001: "ImageQuality",
    0x0002: "FirmwareVersion",
    0x0003: "WhiteBalance",
    0x0007: "FocusMode",
    0x000F: "AFAreaMode",
    0x001A: "ImageStabilization",
    0x001C: "MacroMode",
    0x001F: "ShootingMode",
    0x0020: "Audio",
    0x0023: "WhiteBalanceBias",
    0x0024: "FlashBias",
    0x0025: "InternalSerialNumber",
    0x0051: "LensType",
    0x0052: "LensSerialNumber",
}
APPLE = {
    0x0001: "MakerNoteVersion",
    0x0004: "AEStable",
    0x0005: "AETarget",
    0x0006: "AEAverage",
    0x0007: "AFStable",
    0x0008: "AccelerationVector",
    0x000A: "HDRImageType",
    0x000B: "BurstUUID",
    0x000C: "FocusDistanceRange",
    0x000F: "OISMode",
    0x0011: "ContentIdentifier",
    0x0015: "ImageUniqueID",
}
SIGNED = {("Panasonic", 0x0023), ("Panasonic", 0x0024), ("FujiFilm", 0x1011)}


@dataclass
class MakerNote:
    """A decoded MakerNote: ``maker`` is ExifTool's group name (Canon, Nikon, Sony, FujiFilm,
    Olympus, Panasonic, Apple); ``fields`` maps ExifTool's tag names to values."""

    maker: str
    fields: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def decode_makernote(tiff: bytes, note: bytes, make: str) -> MakerNote | None:
    """The common fields of ``note`` (the MakerNote's bytes) inside ``tiff`` (the whole EXIF
    block, which some makers' offsets count from), for the camera ``make``; None for other
    makers or an unknown layout. Never raises."""
    try:
        return _decode(tiff, note, make.strip().lower())
    except (struct.error, IndexError, ValueError, TypeError) as exc:
        found = MakerNote(make.strip())
        found.warnings.append(f"the MakerNote could not be read ({exc})")
        return found


def _decode(tiff: bytes, note: bytes, make: str) -> MakerNote | None:
    at = tiff.find(note[:64]) if note else -1  # where the note sits in the EXIF block
    if at < 0:
        return None
    if note.startswith(b"Apple iOS\x00"):
        return _ifd("Apple", note, 14, APPLE, endian=">")
    if note.startswith(b"FUJIFILM"):
        start = struct.unpack("<I", note[8:12])[0]
        return _ifd("FujiFilm", note, start, FUJIFILM, endian="<")
    if note.startswith(b"Nikon\x00\x02"):  # type 3: its own TIFF header at byte 10
        inner = note[10:]
        first = _TiffReader(inner, []).u32(4) or 8
        return _ifd("Nikon", inner, first, NIKON)
    if note.startswith(b"Nikon\x00\x01"):  # type 1: offsets from the EXIF's TIFF header
        return _ifd("Nikon", tiff, at + 8, NIKON, endian=_endian(tiff))
    if note.startswith(b"OLYMPUS\x00") or note.startswith(b"OM SYSTEM\x00"):
        header = 12 if note.startswith(b"OLYMPUS") else 16  # offsets from the note
        found = _ifd("Olympus", note, header, OLYMPUS, endian=_endian(note[header - 4 :]))
        _olympus_equipment(note, header, found)
        return found
    if note.startswith(b"OLYMP\x00"):
        return _ifd("Olympus", tiff, at + 8, OLYMPUS, endian=_endian(tiff))
    if note.startswith(b"Panasonic\x00"):
        return _ifd("Panasonic", tiff, at + 12, PANASONIC, endian=_endian(tiff))
    if note.startswith(b"SONY DSC \x00") or note.startswith(b"SONY CAM \x00"):
        return _ifd("Sony", tiff, at + 12, SONY, endian=_endian(tiff))
    if make.startswith("canon"):  # no header: the IFD starts the note
        found = _ifd("Canon", tiff, at, CANON, endian=_endian(tiff))
        _canon_camera_settings(tiff, at, found)
        return found
    if make.startswith("nikon"):  # type 2: an IFD with no header
        return _ifd("Nikon", tiff, at, NIKON, endian=_endian(tiff))
    if make.startswith("sony") and note[:2] != b"\x00\x00":  # some bodies omit the header
        return _ifd("Sony", tiff, at, SONY, endian=_endian(tiff))
    return None


def _endian(data: bytes) -> str:
    return "<" if data[:2] == b"II" else ">"


def _reader(data: bytes, endian: str | None, warnings: list[str]) -> _TiffReader:
    reader = _TiffReader(data, warnings)
    if endian is not None:  # a note's byte order may differ from what its first bytes say
        reader.endian = endian
    return reader


def _ifd(
    maker: str, data: bytes, offset: int, names: dict[int, str], endian: str | None = None
) -> MakerNote:
    found = MakerNote(maker)
    entries, _ = _reader(data, endian, found.warnings).read_ifd(offset, set())
    for tag, value in entries.items():
        if tag in names:
            found.fields[names[tag]] = _value(maker, tag, value)
    found.fields["_raw"] = entries  # for the sub-structures a maker keeps in arrays
    return found


VERSIONS = {("Nikon", 0x0001), ("FujiFilm", 0x0000)}


def _value(maker: str, tag: int, value: Any) -> Any:
    """A field's value as ``exiftool -n`` writes it."""
    if (maker, tag) in SIGNED and isinstance(value, int) and value >= 0x8000:
        return value - 0x10000
    if value is None:  # a rational with a zero denominator
        return "undef"
    if (maker, tag) in VERSIONS and isinstance(value, bytes) and all(b < 10 for b in value):
        return "".join(str(b) for b in value)  # version digits, "0100"
    if isinstance(value, bytes):
        text = value.split(b"\x00", 1)[0]
        if text and all(32 <= b < 127 for b in text):
            return text.decode("ascii")
        return " ".join(str(b) for b in value[:16])
    if isinstance(value, float):
        return int(value) if value.is_integer() else float(f"{value:.10g}")
    if isinstance(value, tuple):
        return " ".join(str(_value(maker, tag, v)) for v in value)
    return value


def _canon_camera_settings(tiff: bytes, at: int, found: MakerNote) -> None:
    settings = found.fields.get("_raw", {}).get(0x0001)
    if not isinstance(settings, tuple):
        return
    for index, name in CANON_CAMERA_SETTINGS.items():
        if index < len(settings) and isinstance(settings[index], int):
            v = settings[index]
            found.fields[name] = v - 0x10000 if v >= 0x8000 else v  # signed shorts


def _olympus_equipment(note: bytes, header: int, found: MakerNote) -> None:
    pointer = found.fields.get("_raw", {}).get(0x2010)
    offset = pointer if isinstance(pointer, int) else None
    if isinstance(pointer, bytes) and len(pointer) == 4:  # stored as UNDEFINED on some bodies
        offset = struct.unpack(found_endian(note, header) + "I", pointer)[0]
    if not offset:
        return
    reader = _reader(note, found_endian(note, header), found.warnings)
    entries, _ = reader.read_ifd(offset, set())
    for tag, value in entries.items():
        if tag == 0x0201 and isinstance(value, bytes) and len(value) >= 4:
            # make, model and release as ExifTool writes them: "0 16 10"
            found.fields["LensType"] = f"{value[0]:x} {value[2]:02x} {value[3]:02x}"
        elif tag in OLYMPUS_EQUIPMENT:
            found.fields[OLYMPUS_EQUIPMENT[tag]] = _value("Olympus", tag, value)


def found_endian(note: bytes, header: int) -> str:
    return _endian(note[header - 4 :])


def public_fields(note: MakerNote) -> dict[str, Any]:
    """The named fields, without the raw entries kept for decoding."""
    return {k: v for k, v in note.fields.items() if not k.startswith("_")}
