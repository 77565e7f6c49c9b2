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
import math
import os
import re
import stat
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np
from PIL import Image, ImageFile

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
JPEG_MAX_SIDE = 65_500  # libjpeg's limit on either side
# a working copy under the memory budget smaller than this says too little to be worth making
MIN_WORKING_PIXELS = 1_000_000


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
    #: memory one image's analysis may take (pixelsleuth.budget); None: the machine's default
    memory_budget_mb: float | None = None

    @property
    def memory_budget_bytes(self) -> int:
        from pixelsleuth.budget import memory_budget_bytes

        return memory_budget_bytes(self.memory_budget_mb)

    @classmethod
    def from_env(cls) -> Limits:
        """The limits the environment asks for (see :class:`pixelsleuth.settings.Settings`)."""
        from pixelsleuth.settings import Settings

        return Settings.from_env().limits


class LoadedImage:
    """An input file held in memory, with lazily decoded pixels and a per-file memo.

    ``data`` is the exact bytes of the file; nothing here ever writes to ``path``. ``header_error``
    is set when Pillow could not identify the file (the bytes may still carry metadata); it is a
    :class:`DamagedImageError` when the bytes start like an image whose header is cut short or
    corrupt. ``partial`` is set once decoding found the pixel data damaged: the decoded pixels
    are then the readable part (``decoded_rows`` of the height), and ``decode_warnings`` holds
    what the decoders said.
    """

    def __init__(self, path: Path, data: bytes, limits: Limits) -> None:
        self.path = path
        self.data = data
        self.limits = limits
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.info = FileInfo(path=str(path), size_bytes=len(data), sha256=self.sha256)
        self._memo: dict[str, Any] = {}
        self.header_error: ImageInputError | None = None
        self.partial = False
        self.decoded_rows: int | None = None  # rows of pixels that decoded, when partial
        self.decode_warnings: list[str] = []  # libjpeg, libtiff, Pillow: their own words
        #: libjpeg-turbo decoded this JPEG without a single warning (None: not tried). jpeglib
        #: crashes the process on some damaged JPEGs, so it is only given clean ones.
        self.libjpeg_clean: bool | None = None
        self._identify()

    # -- header -------------------------------------------------------------------------------
    def _identify(self) -> None:
        if not self.data:
            self.header_error = EmptyFileError("the file is empty (0 bytes)")
            return
        try:
            with warnings.catch_warnings(), native_stderr_captured() as said:
                warnings.simplefilter("ignore")  # Pillow's bomb warning: we apply our own limit
                im = _pil_open(self.data, self.limits.max_pixels)
                self.info.format = im.format
                self.info.width, self.info.height = im.size
                self.info.mode = im.mode
                self.info.frames = _frame_count(im)
            self._note_warnings(said)
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
                self.header_error = self._unreadable_header(exc)
        except Exception as exc:  # Pillow raises many types on hostile headers
            self.header_error = self._unreadable_header(exc)

    def _unreadable_header(self, exc: BaseException) -> ImageInputError:
        """Damage when the bytes start like an image format, else not an image at all."""
        kind = sniff_format(self.data)
        if kind is None:
            return NotAnImageError(f"not a recognised image ({_first_line(exc)})")
        self.info.format = kind
        text = _first_line(exc)
        if kind == "JXL" and "libjxl" in text:  # the plugin's advice is for its developers
            text = "the JPEG XL decoder refused its pixel data"
        if _looks_truncated(exc, text):
            what = f"the file ends inside its header, after {len(self.data):,} bytes"
        else:
            what = f"its header is corrupt ({text})"
        return DamagedImageError(
            f"a damaged {kind} file, only partly readable: {what}, so no pixels could be "
            "decoded (what its metadata says is still reported)"
        )

    def _note_warnings(self, lines: list[str]) -> None:
        for line in lines:
            if line and line not in self.decode_warnings and len(self.decode_warnings) < 20:
                self.decode_warnings.append(line[:300])

    @property
    def working_size(self) -> tuple[int, int] | None:
        """(width, height) of the reduced copy the pixel analyses see when the full image
        would not fit the memory budget (``info.working_size``); None while they see every
        pixel."""
        size = self.info.working_size
        return None if size is None else (size[0], size[1])

    @property
    def pixel_count(self) -> int:
        return (self.info.width or 0) * (self.info.height or 0)

    def open(self) -> Image.Image:
        """A fresh, not yet decoded Pillow image. Raises if the file is not an image or too big."""
        if self.header_error is not None:
            raise self.header_error
        with warnings.catch_warnings(), native_stderr_captured() as said:
            warnings.simplefilter("ignore")
            im = _pil_open(self.data, self.limits.max_pixels)
        self._note_warnings(said)
        return im

    # -- pixels -------------------------------------------------------------------------------
    def decoded(self) -> Image.Image:
        """The first frame, fully decoded, in its stored orientation (EXIF rotation not applied,
        because forensic traces live in the stored pixel grid). Cached."""

        def decode() -> Image.Image:
            self._check_budget()
            im = self.open()
            said: list[str] = []
            try:
                with warnings.catch_warnings(), native_stderr_captured() as said:
                    warnings.simplefilter("ignore")
                    im.load()
                self._note_warnings(said)
            except Exception as exc:
                self._note_warnings(said)
                self._note_warnings([_first_line(exc)])
                readable = self._decode_readable_part()
                if readable is None:
                    raise DamagedImageError(
                        f"the pixel data could not be decoded ({_first_line(exc)}); "
                        "the file is probably truncated or corrupt"
                    ) from exc
                return readable
            return im

        return self.memo("decoded", decode)

    def _decode_readable_part(self) -> Image.Image | None:
        """The pixels that decode before the damage, cropped to the complete rows, or None.

        Pillow stops at the first error unless LOAD_TRUNCATED_IMAGES is set; that switch is
        process-wide, so it is set only here, under a lock, and restored at once."""
        with _TRUNCATED_LOCK, warnings.catch_warnings(), native_stderr_captured() as said:
            warnings.simplefilter("ignore")
            before = ImageFile.LOAD_TRUNCATED_IMAGES
            ImageFile.LOAD_TRUNCATED_IMAGES = True
            try:
                im = _pil_open(self.data, self.limits.max_pixels)
                im.load()
            except Exception:
                return None
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = before
        self._note_warnings(said)
        rows = readable_rows(im)
        if rows <= 0:
            return None
        self.partial, self.decoded_rows = True, rows
        self.info.partial = True
        return im if rows == im.height else im.crop((0, 0, im.width, rows))

    def rgb(self) -> np.ndarray:
        """Pixels as a uint8 array, H×W×3, RGB, values 0–255. Cached; do not modify."""

        def convert() -> np.ndarray:
            from pixelsleuth.budget import budget_exceeded

            if self.header_error is None and (
                exceeded := budget_exceeded(self.pixel_count, self.limits.memory_budget_bytes)
            ):
                return self._working_copy(exceeded)
            if self.header_error is None and self.info.format == "JPEG":
                arr, said = _decode_jpeg_turbo(self.data)
                if arr is not None and arr.shape[:2] == (self.info.height, self.info.width):
                    self.libjpeg_clean = True
                    arr.setflags(write=False)
                    return arr
                if said:  # libjpeg found damage: Pillow decodes what it can, we say so
                    self.libjpeg_clean = False
                    self._note_warnings(said)
                    if any(not _harmless_jpeg_warning(w) for w in said):
                        self.partial = self.info.partial = True
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

    def _working_copy(self, exceeded: str) -> np.ndarray:
        """A reduced RGB copy whose analysis fits the memory budget (pixelsleuth.budget), as
        large as the budget allows; ``exceeded`` says how the full image would exceed it. A
        JPEG is decoded straight at 1/2, 1/4 or 1/8 scale by libjpeg (the full image never
        exists in memory); another format is decoded once, if that fits, and reduced. Raises
        ImageTooLargeError when neither fits."""
        from pixelsleuth.budget import decode_fits, working_pixels

        budget = self.limits.memory_budget_bytes
        target = working_pixels(budget)
        if target < MIN_WORKING_PIXELS:
            raise ImageTooLargeError(f"{exceeded}; the file's metadata was still read")
        w, h = self.info.width or 0, self.info.height or 0
        factor = math.sqrt(self.pixel_count / target)
        size = (max(1, int(w / factor)), max(1, int(h / factor)))
        im = self.open()
        if im.format == "JPEG":
            # libjpeg's DCT scaling by the smallest of 1/2, 1/4, 1/8 that fits: the full image
            # never exists in memory (and a copy at 1/8 is reduced further below)
            scale = next((r for r in (2, 4, 8) if self.pixel_count / (r * r) <= target), 8)
            im.draft("RGB", (math.ceil(w / scale), math.ceil(h / scale)))
            size = (min(size[0], im.width), min(size[1], im.height)) if scale == 8 else im.size
        elif not decode_fits(self.pixel_count, 1 if im.mode in ("L", "P", "1") else 8, budget):
            raise ImageTooLargeError(
                f"{exceeded}, and even decoding it to work on a reduced copy "
                "would exceed the budget; the file's metadata was still read"
            )
        said: list[str] = []
        try:
            with warnings.catch_warnings(), native_stderr_captured() as said:
                warnings.simplefilter("ignore")
                im.load()
        except Exception as exc:
            self._note_warnings(said)
            raise DamagedImageError(
                f"the pixel data could not be decoded ({_first_line(exc)}); the file is "
                "probably truncated or corrupt"
            ) from exc
        self._note_warnings(said)
        if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit or float: top 8 bits
            arr = np.asarray(im, dtype=np.float32)
            arr = np.clip(arr / max(float(arr.max()), 1.0) * 255.0, 0, 255).astype(np.uint8)
            im = Image.fromarray(arr)
        elif im.mode not in ("L", "RGB"):
            im = im.convert("RGB")
        if im.width > size[0] or im.height > size[1]:
            im = im.resize(size, Image.Resampling.BOX)
        rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
        rgb.setflags(write=False)
        self.info.working_size = [rgb.shape[1], rgb.shape[0]]
        return rgb

    def require_full_resolution(self, what: str) -> str | None:
        """Why ``what`` cannot be judged on this image's pixels (they are a reduced copy that
        no longer has the original pixel grid), as a sentence, or None when they are the full
        image."""
        if self.working_size is None:
            try:
                self.rgb()  # decides whether the pixels are the full image or a working copy
            except ImageInputError:
                return None  # the caller's own decode reports the problem
        if self.working_size is None:
            return None
        w, h = self.working_size
        return (
            f"The image ({self.info.width}×{self.info.height}) is over the memory budget, so "
            f"its pixels were analysed on a {w}×{h} copy, and {what} needs the original pixel "
            "grid: this analysis does not judge it."
        )

    def _check_budget(self) -> None:
        """ImageTooLargeError, before any pixel is decoded, when analysing this many pixels
        would exceed the memory budget (pixelsleuth.budget)."""
        from pixelsleuth.budget import over_budget

        reason = over_budget(self.pixel_count, self.limits.memory_budget_bytes)
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


def _decode_jpeg_turbo(data: bytes) -> tuple[np.ndarray | None, list[str]]:
    """(pixels, []) from libjpeg-turbo; (None, what libjpeg said) on any warning or error (a
    truncated or damaged file); (None, []) where TurboJPEG is missing or the colour space is
    not RGB-like (CMYK/YCCK)."""
    tj = _turbojpeg()
    if tj is None:
        return None, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # PyTurboJPEG reports libjpeg's warnings as these
        try:
            width, height, _, colorspace = tj.decode_header(data)
            if colorspace not in (0, 1, 2):  # TJCS_RGB, TJCS_YCbCr, TJCS_GRAY
                return None, []
            rgb = tj.decode(data, pixel_format=0)  # TJPF_RGB
        except Exception as exc:
            return None, [_first_line(exc)]
    said = list(dict.fromkeys(str(w.message).strip() for w in caught if str(w.message).strip()))
    if said:
        return None, said
    ok = rgb.shape == (height, width, 3) and rgb.dtype == np.uint8
    return (rgb if ok else None), []


def decode_jpeg_rgb(data: bytes) -> np.ndarray | None:
    """A JPEG's pixels as uint8 H×W×3 RGB straight from libjpeg-turbo, or None.

    The values are Pillow's (the same library, IDCT and chroma upsampling; the test suite
    compares every JPEG in the corpus), without Pillow's RGBX buffer and conversion copies:
    about three times faster on a 12 MP photo. None when PyTurboJPEG or libturbojpeg is
    missing, for CMYK/YCCK files, and on any warning (a truncated or damaged file): the caller
    then decodes with Pillow, whose errors the tool reports.
    """
    return _decode_jpeg_turbo(data)[0]


def jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    """``image`` saved as JPEG at ``quality`` (Pillow's libjpeg, default subsampling) and
    decoded again, in RGB: the re-save that ELA, JPEG ghosts and augmentation rely on.
    Raises :class:`ImageInputError` for a side over JPEG's 65,500-pixel maximum."""
    if max(image.size) > JPEG_MAX_SIDE:
        raise ImageInputError(
            f"a side of {max(image.size):,} pixels is over the {JPEG_MAX_SIDE:,} that a JPEG "
            "re-save allows"
        )
    buf = io.BytesIO()
    with native_stderr_captured():
        image.save(buf, "JPEG", quality=quality)
    # our own re-encode of pixels already admitted under the pixel limit: Pillow's bomb
    # guard (a warning on stderr from 89 MP, an error from 179 MP) does not apply to it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copy = _pil_open(buf.getvalue(), image.width * image.height)
    return copy.convert("RGB")


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


# -- damage -----------------------------------------------------------------------------------

_TRUNCATED_LOCK = threading.Lock()

# Where a format's signature is unambiguous, a file that starts with it is a damaged image of
# that format, not "not an image". (BMP's two-byte "BM" is too weak to claim.)
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"WEBP", 8, "WEBP"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", 0, "JXL"),  # JPEG XL in its ISO BMFF container
    (b"\xff\x0a", 0, "JXL"),  # a bare JPEG XL codestream
)


def sniff_format(data: bytes) -> str | None:
    """The image format whose signature ``data`` starts with (JPEG, PNG, GIF, TIFF, WEBP, JXL)."""
    for magic, at, kind in _SIGNATURES:
        if data[at : at + len(magic)] == magic and (kind != "WEBP" or data[:4] == b"RIFF"):
            return kind
    return None


def _looks_truncated(exc: BaseException, text: str) -> bool:
    lowered = text.lower()
    return isinstance(exc, EOFError) or any(
        word in lowered for word in ("truncated", "unpack requires", "end of file", "not enough")
    )


def _harmless_jpeg_warning(text: str) -> bool:
    """Garbage between segments ("N extraneous bytes before marker"): the pixels are whole."""
    return "extraneous bytes" in text


def readable_rows(im: Image.Image) -> int:
    """How many rows from the top of a decoder-filled image hold decoded pixels.

    A decoder that runs out of data fills the rest of the frame with one value (JPEG: mid-grey,
    PNG: zero). Trailing rows of exactly the bottom-right pixel's value are taken as that fill;
    for JPEG, a band of blocks (MCU row) whose right end is fill decoded only in part and is
    dropped too. 0 when nothing decoded; the full height when no fill is found (a progressive
    or interlaced file: every row is there at reduced detail)."""
    arr = np.asarray(im)
    if arr.ndim == 2:
        arr = arr[..., None]
    fill = arr[-1, -1]
    is_fill = (arr == fill).all(axis=2)
    full_rows = is_fill.all(axis=1)
    real = np.flatnonzero(~full_rows)
    if real.size == 0:
        return 0
    rows = int(real[-1]) + 1
    layers = getattr(im, "layer", None)
    if im.format == "JPEG" and layers:
        mcu_h = 8 * max(int(v) for _, _, v, _ in layers)
        mcu_w = 8 * max(int(h) for _, h, _, _ in layers)
        band = (rows - 1) // mcu_h
        top = band * mcu_h
        if is_fill[top : top + mcu_h, -min(mcu_w, im.width) :].all():
            rows = top  # this band stopped part-way across
        else:
            rows = min(im.height, top + mcu_h)
    return rows


# -- native output and anonymous files --------------------------------------------------------

_STDERR_LOCK = threading.RLock()
_MAX_CAPTURE = 64 * 1024


def _anonymous_file() -> BinaryIO:
    """A read-write file with no name in any folder: a memfd (Linux), else a temporary file
    that is unlinked at once. Nothing is left behind, even when the process is killed."""
    if hasattr(os, "memfd_create"):
        try:
            return os.fdopen(os.memfd_create("pixelsleuth", getattr(os, "MFD_CLOEXEC", 1)), "w+b")
        except OSError:  # a kernel or sandbox without memfd
            pass
    return tempfile.TemporaryFile()  # O_TMPFILE on Linux; unlinked at once elsewhere


@contextmanager
def native_stderr_captured() -> Iterator[list[str]]:
    """Capture what C libraries (libjpeg in jpeglib, libtiff, ...) print on file descriptor 2
    while the block runs; the yielded list holds those lines once the block ends.

    The descriptor is process-wide, so captures are serialised by a lock (re-entrant, so nested
    captures work); another thread's output in that window is captured too."""
    lines: list[str] = []
    with _STDERR_LOCK:
        try:
            sink = _anonymous_file()
            saved = os.dup(2)
        except OSError:  # no descriptors left: let the output through rather than fail
            yield lines
            return
        try:
            sys.stderr.flush()
            os.dup2(sink.fileno(), 2)
            try:
                yield lines
            finally:
                os.dup2(saved, 2)
                sink.seek(0)
                text = sink.read(_MAX_CAPTURE).decode("utf-8", "replace")
                lines.extend(dict.fromkeys(ln.strip() for ln in text.splitlines() if ln.strip()))
        finally:
            os.close(saved)
            sink.close()


@contextmanager
def in_memory_path(data: bytes) -> Iterator[str]:
    """A path that reads as ``data`` for libraries that only open paths (jpeglib), backed by
    an anonymous file (:func:`_anonymous_file`) opened through /proc/self/fd or /dev/fd: no copy
    of the user's image appears in any folder, not even after a kill."""
    fh = _anonymous_file()
    try:
        fh.write(data)
        fh.flush()
        fh.seek(0)
        folder = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
        yield f"{folder}/{fh.fileno()}"
    finally:
        fh.close()
