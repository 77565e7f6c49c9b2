"""Safe, read-only loading of untrusted image files.

The file is opened once, read-only, into memory (after a size check), hashed, and identified from
its header. Pixels are decoded lazily and only after the pixel limit was checked, so a
decompression bomb is refused before it allocates anything. Every failure is an
:class:`ImageInputError` with a message fit to show a user.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import stat
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from pixelsleuth.report import FileInfo

T = TypeVar("T")


def register_format_plugins() -> list[str]:
    """Let Pillow open HEIF/HEIC/AVIF (pillow-heif) and JPEG XL (pillow-jxl-plugin) where those
    maintained plugins are installed; returns the formats added. Safe to call again."""
    added = []
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        if hasattr(pillow_heif, "register_avif_opener"):  # AVIF moved into Pillow in 0.22
            pillow_heif.register_avif_opener()
        added += ["HEIF", "AVIF"]
    except ImportError:
        pass
    try:
        import pillow_jxl  # noqa: F401  (importing it registers the opener)

        added.append("JXL")
    except ImportError:
        pass
    return added


OPTIONAL_FORMATS = register_format_plugins()

DEFAULT_MAX_PIXELS = 150_000_000  # 150 MP: above any camera sensor sold today
DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024


class ImageInputError(Exception):
    """The input cannot be analysed (or not fully). The message is meant for the user."""


class UnreadableFileError(ImageInputError):
    pass


class EmptyFileError(ImageInputError):
    pass


class NotAnImageError(ImageInputError):
    pass


class ImageTooLargeError(ImageInputError):
    pass


class DamagedImageError(ImageInputError):
    """The header was readable but the pixel data is truncated or corrupt."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one file. ``max_pixels`` guards against decompression bombs."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES

    @classmethod
    def from_env(cls) -> Limits:
        """Defaults, overridden by PIXELSLEUTH_MAX_PIXELS / PIXELSLEUTH_MAX_FILE_BYTES."""
        return cls(
            max_pixels=int(os.environ.get("PIXELSLEUTH_MAX_PIXELS", DEFAULT_MAX_PIXELS)),
            max_file_bytes=int(
                os.environ.get("PIXELSLEUTH_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES)
            ),
        )


class LoadedImage:
    """An input file held in memory, with lazily decoded pixels and a per-file memo.

    ``data`` is the exact bytes of the file; nothing here ever writes to ``path``. ``header_error``
    is set when Pillow could not identify the file (the bytes may still carry metadata).
    """

    def __init__(self, path: Path, data: bytes, limits: Limits) -> None:
        self.path = path
        self.data = data
        self.limits = limits
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.info = FileInfo(path=str(path), size_bytes=len(data), sha256=self.sha256)
        self._memo: dict[str, Any] = {}
        self.header_error: ImageInputError | None = None
        self._identify()

    # -- header -------------------------------------------------------------------------------
    def _identify(self) -> None:
        if not self.data:
            self.header_error = EmptyFileError("the file is empty (0 bytes)")
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow's bomb warning: we apply our own limit
                im = _pil_open(self.data, self.limits.max_pixels)
                self.info.format = im.format
                self.info.width, self.info.height = im.size
                self.info.mode = im.mode
                self.info.frames = _frame_count(im)
            if self.pixel_count > self.limits.max_pixels:
                mp = self.pixel_count / 1e6
                self.header_error = ImageTooLargeError(
                    f"{self.info.width}×{self.info.height} = {mp:.1f} MP exceeds the limit of "
                    f"{self.limits.max_pixels / 1e6:.1f} MP (a decompression-bomb guard; raise "
                    "it with --max-pixels)"
                )
        except Image.DecompressionBombError as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))
            size = f"{int(found.group(1)) / 1e6:.1f} MP" if found else "the image"
            self.header_error = ImageTooLargeError(
                f"{size} exceeds the limit of {self.limits.max_pixels / 1e6:.1f} MP "
                "(a decompression-bomb guard; raise it with --max-pixels)"
            )
        except ValueError as exc:
            if "Decompressed" in str(exc):  # Pillow's cap on compressed PNG text chunks
                self.header_error = ImageTooLargeError(
                    "refused as a decompression bomb: a compressed text chunk expands beyond "
                    "the safety limit"
                )
            else:
                self.header_error = NotAnImageError(
                    f"not a recognised image (ValueError: {_first_line(exc)})"
                )
        except Exception as exc:  # Pillow raises many types on hostile headers
            self.header_error = NotAnImageError(
                f"not a recognised image ({type(exc).__name__}: {_first_line(exc)})"
            )

    @property
    def pixel_count(self) -> int:
        return (self.info.width or 0) * (self.info.height or 0)

    def open(self) -> Image.Image:
        """A fresh, not yet decoded Pillow image. Raises if the file is not an image or too big."""
        if self.header_error is not None:
            raise self.header_error
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _pil_open(self.data, self.limits.max_pixels)

    # -- pixels -------------------------------------------------------------------------------
    def decoded(self) -> Image.Image:
        """The first frame, fully decoded, in its stored orientation (EXIF rotation not applied,
        because forensic traces live in the stored pixel grid). Cached."""

        def decode() -> Image.Image:
            self._check_budget()
            im = self.open()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    im.load()
            except Exception as exc:
                raise DamagedImageError(
                    f"the pixel data could not be decoded ({_first_line(exc)}); "
                    "the file is probably truncated or corrupt"
                ) from exc
            return im

        return self.memo("decoded", decode)

    def rgb(self) -> np.ndarray:
        """Pixels as a uint8 array, H×W×3, RGB, values 0–255. Cached; do not modify."""

        def convert() -> np.ndarray:
            self._check_budget()
            if self.header_error is None and self.info.format == "JPEG":
                arr = decode_jpeg_rgb(self.data)
                if arr is not None and arr.shape[:2] == (self.info.height, self.info.width):
                    arr.setflags(write=False)
                    return arr
            im = self.decoded()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                # 16-bit greyscale: keep the top 8 bits rather than clipping at 255
                arr = np.asarray(im, dtype=np.float64)
                arr = np.clip(arr / max(arr.max(), 1.0) * 255.0, 0, 255).astype(np.uint8)
                arr = np.repeat(arr[..., None], 3, axis=2)
            else:
                arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
            arr.setflags(write=False)
            return arr

        return self.memo("rgb", convert)

    def gray(self) -> np.ndarray:
        """Luma as float32, H×W, values 0–255 (ITU-R BT.601 weights). Cached."""

        def convert() -> np.ndarray:
            # channel by channel, in place: the same float32 values as converting the whole
            # RGB array first, without its 12 bytes per pixel
            rgb = self.rgb()
            luma = rgb[..., 0].astype(np.float32)
            luma *= 0.299
            for channel, weight in ((1, 0.587), (2, 0.114)):
                part = rgb[..., channel].astype(np.float32)
                part *= weight
                luma += part
            luma.setflags(write=False)
            return luma

        return self.memo("gray", convert)

    def _check_budget(self) -> None:
        """ImageTooLargeError, before any pixel is decoded, when analysing this many pixels
        would exceed the memory budget (pixelsleuth.budget)."""
        from pixelsleuth.budget import over_budget

        reason = over_budget(self.pixel_count)
        if reason is not None:
            raise ImageTooLargeError(reason)

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Compute something once per file and share it between analyzers (errors included)."""
        if key in self._memo:
            value = self._memo[key]
            if isinstance(value, _Failure):
                raise value.error
            return value
        try:
            value = compute()
        except ImageInputError as exc:
            self._memo[key] = _Failure(exc)
            raise
        self._memo[key] = value
        return value


@dataclass
class _Failure:
    error: ImageInputError


def load_image(path: str | os.PathLike[str], limits: Limits | None = None) -> LoadedImage:
    """Read ``path`` read-only into memory and identify it.

    Raises :class:`ImageInputError` for a missing, unreadable, non-regular, or over-large file.
    A file that is not an image still loads (``header_error`` is set) so that byte-level
    analyzers can report on it.
    """
    limits = limits or Limits.from_env()
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise UnreadableFileError("no such file") from None
    except OSError as exc:
        raise UnreadableFileError(f"cannot access the file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableFileError("is a directory (use `pixelsleuth audit` for folders)")
    if not stat.S_ISREG(st.st_mode):
        # a FIFO or device would block or never end
        raise UnreadableFileError("not a regular file")
    if st.st_size > limits.max_file_bytes:
        raise ImageTooLargeError(
            f"the file is {st.st_size / 2**20:.0f} MiB, over the limit of "
            f"{limits.max_file_bytes / 2**20:.0f} MiB"
        )
    try:
        with open(p, "rb") as fh:
            data = fh.read(limits.max_file_bytes + 1)
    except OSError as exc:
        raise UnreadableFileError(f"cannot read the file ({exc.strerror or exc})") from None
    if len(data) > limits.max_file_bytes:  # it grew while we looked
        raise ImageTooLargeError("the file is over the size limit")
    return LoadedImage(p, data, limits)


def load_bytes(data: bytes, name: str = "<bytes>", limits: Limits | None = None) -> LoadedImage:
    """Wrap bytes already in memory (an upload, say) as a :class:`LoadedImage`."""
    limits = limits or Limits.from_env()
    if len(data) > limits.max_file_bytes:
        raise ImageTooLargeError("the data is over the size limit")
    return LoadedImage(Path(name), bytes(data), limits)


_PIL_LIMIT_LOCK = threading.Lock()


def _pil_open(data: bytes, max_pixels: int) -> Image.Image:
    """Image.open under our pixel limit. Pillow refuses above 2 × MAX_IMAGE_PIXELS on its own;
    when the caller allows more, lift Pillow's guard for this one call."""
    pil_limit = Image.MAX_IMAGE_PIXELS
    if pil_limit is None or max_pixels <= 2 * pil_limit:
        return Image.open(io.BytesIO(data))
    with _PIL_LIMIT_LOCK:
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            return Image.open(io.BytesIO(data))
        finally:
            Image.MAX_IMAGE_PIXELS = pil_limit


@functools.cache
def _turbojpeg() -> Any:
    """libjpeg-turbo's TurboJPEG API (PyTurboJPEG), or None where it or the library is missing."""
    try:
        from turbojpeg import TurboJPEG

        return TurboJPEG()
    except Exception:  # the package, or the libturbojpeg shared library, is not installed
        return None


def decode_jpeg_rgb(data: bytes) -> np.ndarray | None:
    """A JPEG's pixels as uint8 H×W×3 RGB straight from libjpeg-turbo, or None.

    The values are Pillow's (the same library, IDCT and chroma upsampling; the test suite
    compares every JPEG in the corpus), without Pillow's RGBX buffer and conversion copies:
    about three times faster on a 12 MP photo. None when PyTurboJPEG or libturbojpeg is
    missing, for CMYK/YCCK files, and on any warning (a truncated or damaged file): the caller
    then decodes with Pillow, whose errors the tool reports.
    """
    tj = _turbojpeg()
    if tj is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # libjpeg warnings mean damage: let Pillow judge
            width, height, _, colorspace = tj.decode_header(data)
            if colorspace not in (0, 1, 2):  # TJCS_RGB, TJCS_YCbCr, TJCS_GRAY
                return None
            rgb = tj.decode(data, pixel_format=0)  # TJPF_RGB
    except Exception:
        return None
    return rgb if rgb.shape == (height, width, 3) and rgb.dtype == np.uint8 else None


def jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    """``image`` saved as JPEG at ``quality`` (Pillow's libjpeg, default subsampling) and
    decoded again, in RGB: the re-save that ELA, JPEG ghosts and augmentation rely on."""
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _frame_count(im: Image.Image) -> int:
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:
        return 1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0][:200] if text else type(exc).__name__
    # Pillow names the in-memory buffer ("<_io.BytesIO object at 0x…>"): say "the data"
    return re.sub(r"<_io\.BytesIO object at 0x[0-9a-f]+>", "the data", line)
