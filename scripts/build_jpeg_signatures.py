"""Build pixelsleuth/forensics/data/jpeg_signatures.json: the quantization tables that camera
models write, keyed by EXIF make and model.

    python scripts/build_jpeg_signatures.py [FOLDER ...]   (default: ../shared/corpus/real/camera)

Only files that look untouched contribute: no editing software named and EXIF pixel dimensions
equal to the image's. Some cameras write libjpeg's standard tables themselves; they are kept,
marked with the libjpeg quality, so that their photos are not mistaken for re-saved ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pixelsleuth.forensics.formats.exif import ExifData
from pixelsleuth.forensics.formats.fields import canonical_fields
from pixelsleuth.forensics.formats.jpeg import parse_jpeg
from pixelsleuth.forensics.formats.jpeg_quality import estimate_quality, table_signature
from pixelsleuth.forensics.formats.parsed import parsed_metadata
from pixelsleuth.forensics.metadata import PIXEL_X, PIXEL_Y, classify_software
from pixelsleuth.imageio import load_image

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "pixelsleuth/forensics/data/jpeg_signatures.json"


def resized(exif: ExifData | None, width: int | None, height: int | None) -> bool:
    if exif is None:
        return False
    ex, ey = exif.get("Exif", PIXEL_X), exif.get("Exif", PIXEL_Y)
    return isinstance(ex, int) and isinstance(ey, int) and {ex, ey} != {width, height}


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:]] or [ROOT.parent / "shared/corpus/real/camera"]
    entries, skipped = {}, []
    for path in sorted(p for f in folders for p in f.glob("*.jpg")):
        image = load_image(path)
        meta = parsed_metadata(image)
        fields = canonical_fields(meta)
        if not (fields["Make"] and fields["Model"]) or meta.containers.jpeg is None:
            skipped.append((path.name, "no camera named"))
            continue
        software = [fields["Software"], fields["CreatorTool"]]
        if any(s and classify_software(s) != "other" for s in software):
            skipped.append((path.name, f"software {software}"))
            continue
        if resized(meta.exif, image.info.width, image.info.height):
            skipped.append((path.name, "resized after capture"))
            continue
        info = parse_jpeg(meta.containers.jpeg)
        if info.luma_table() is None:
            skipped.append((path.name, "no quantization table"))
            continue
        quality = estimate_quality(info.luma_table(), info.chroma_table())
        key = (fields["Make"], fields["Model"], table_signature(info))
        entries[key] = {
            "make": key[0],
            "model": key[1],
            "tables": list(key[2]),
            "libjpeg_quality": quality.quality if quality.exact else None,
            "source": path.name.split("__")[-1],
        }
    OUT.write_text(
        json.dumps(
            {
                "description": "Quantization tables (luma then chroma, zigzag order) written by "
                "camera "
                "models, from untouched files of the pixelsleuth test corpus.",
                "cameras": sorted(entries.values(), key=lambda e: (e["make"], e["model"])),
            },
            indent=1,
        )
        + "\n"
    )
    print(f"{len(entries)} signatures written to {OUT}")
    for name, why in skipped:
        print(f"  skipped {name.split('__')[-1]}: {why}")


if __name__ == "__main__":
    main()
