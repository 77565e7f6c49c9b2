"""Decoding: the libjpeg-turbo fast path gives Pillow's pixels, and damage still reads as damage."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsleuth.imageio import (
    DamagedImageError,
    _turbojpeg,
    decode_jpeg_rgb,
    load_bytes,
    load_image,
)

from .conftest import corpus_dir


def _needs_turbojpeg() -> None:
    if _turbojpeg() is None:
        pytest.skip("PyTurboJPEG or libturbojpeg (Debian: libturbojpeg0) is not installed")


def test_fast_jpeg_decoding_gives_pillows_pixels_on_every_corpus_jpeg():
    _needs_turbojpeg()
    compared = 0
    for path in sorted(p for p in corpus_dir().rglob("*") if p.is_file()):
        image = load_image(path)
        if image.info.format != "JPEG" or image.header_error is not None:
            continue
        fast = decode_jpeg_rgb(image.data)
        if fast is None:  # CMYK, or damage: Pillow decides
            continue
        reference = np.asarray(image.decoded().convert("RGB"))
        assert np.array_equal(fast, reference), path.name
        assert np.array_equal(image.rgb(), reference), path.name
        compared += 1
    print(f"\n{compared} corpus JPEGs decoded identically by libjpeg-turbo and Pillow")
    assert compared >= 100


def test_a_truncated_jpeg_is_still_reported_as_damaged():
    _needs_turbojpeg()
    path = sorted(corpus_dir("real", "camera").glob("*.jpg"))[0]
    data = path.read_bytes()
    cut = data[: len(data) // 2]
    assert decode_jpeg_rgb(cut) is None  # libjpeg warns: left to Pillow
    image = load_bytes(cut, "cut.jpg")
    rgb = image.rgb()  # the readable part: the complete rows above the cut
    assert image.partial and image.info.partial and image.libjpeg_clean is False
    assert rgb.shape == (image.decoded_rows, image.info.width, 3)
    assert 0 < image.decoded_rows < image.info.height
    whole = load_bytes(data, "whole.jpg").rgb()
    assert np.array_equal(rgb, whole[: image.decoded_rows])  # the same pixels, no fill
    with pytest.raises(DamagedImageError):  # nothing decodable at all: still an error
        load_bytes(data[:2000] + b"\x00" * 64, "cut.jpg").rgb()
