"""Generate labelled fake images into an imagefolder dataset.

Modes:

- ``text-to-image``: prompts from a file or the built-in sampler;
- ``image-to-image``: real photos from a folder, re-generated at a chosen strength;
- ``aligned``: real photos passed through an autoencoder (encode → decode, optionally a
  low-strength image-to-image pass), written together with their real twins in the same format.

Every image has a deterministic name and seed, so a re-run skips what exists and regenerates
exactly what is missing, with the same pixels.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, PngImagePlugin
from tqdm import tqdm

from pixelsleuth import __version__
from pixelsleuth.datasets.manifest import DEFAULT_FRACTIONS, ImageFolderDataset, Row, assign_split
from pixelsleuth.datasets.pipelines import (
    GenerationError,
    describe,
    image_to_image,
    load_autoencoder_fn,
    load_pipeline,
    pick_device,
    pick_dtype,
)
from pixelsleuth.datasets.prompts import NEGATIVE, read_prompts, sample_prompts

MODES = ("text-to-image", "image-to-image", "aligned")
FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}
AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


@dataclass
class GenerationConfig:
    out: Path
    mode: str = "text-to-image"
    model: str | None = None  # a pipeline (text-to-image, image-to-image, aligned+strength)
    autoencoder: str | None = None  # aligned: a tiny/KL autoencoder folder (default: model's VAE)
    images: Path | None = None  # real photos (folder or manifest.csv) for i2i and aligned
    images_split: str | None = None  # with a manifest: only photos of this corpus split
    count: int = 8
    prompts_file: Path | None = None
    negative_prompt: str | None = NEGATIVE
    steps: int = 25
    guidance: float = 7.5
    strength: float = 0.5  # image-to-image; aligned uses aligned_strength
    aligned_strength: float = 0.0  # > 0: a low-strength image-to-image pass after the round trip
    seed: int = 0
    batch_size: int = 1
    width: int | None = None
    height: int | None = None
    max_side: int | None = None  # resize input photos so their long side is at most this
    format: str = "png"
    quality: int = 95
    provenance: bool = True
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    holdout_split: str | None = None  # put everything this generator makes into this split
    device: str | None = None
    dtype: str | None = None
    lora: str | None = None
    scheduler: str | None = None
    single_file_config: str | None = None  # configs for a .safetensors/.ckpt model
    tile: int = 1024  # tiles for large photos; 512 costs 1.65× more per MP in overlap
    progress: bool = True


@dataclass
class GenerationSummary:
    written: int = 0
    skipped: int = 0
    real_written: int = 0
    seconds: float = 0.0
    psnr: list[float] = field(default_factory=list)  # aligned: real vs fake, dB
    rejected: list[tuple[str, str]] = field(default_factory=list)  # unreadable input photos
    generator: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Item:
    split: str
    file_name: str
    seed: int
    prompt: str | None = None
    source: Path | None = None  # input photo
    real_file: str | None = None  # aligned: the real twin's file name


def generate(
    config: GenerationConfig, on_progress: Callable[[int, int], None] | None = None
) -> GenerationSummary:
    """Run a generation job; returns counts. Raises GenerationError for user errors.
    ``on_progress(done, total)`` is called after each batch (the app's progress bar)."""
    import time

    validate(config)
    start = time.perf_counter()
    device = pick_device(config.device)
    dtype = pick_dtype(device, config.dtype)
    dataset = ImageFolderDataset(config.out)
    summary = GenerationSummary()
    pipe = None
    if config.model and (config.mode != "aligned" or config.aligned_strength > 0):
        pipe = load_pipeline(
            config.model, device, dtype, config.lora, config.scheduler, config.single_file_config
        )
        summary.generator = describe(pipe, config.model)
    roundtrip_fn = None
    if config.mode == "aligned":
        source = config.autoencoder or config.model
        roundtrip_fn, ae_info = load_autoencoder_fn(source, device)
        if not summary.generator:
            summary.generator = ae_info
        else:
            summary.generator["autoencoder"] = ae_info["model_id"]
    slug = _slug(
        config.autoencoder
        if config.mode == "aligned" and config.autoencoder
        else config.model or "model"
    )
    existing = dataset.existing()
    items = list(_items(config, slug, summary.rejected))
    missing = {f"{it.split}/{it.file_name}" for it in items} - existing
    summary.skipped = len(items) - len(missing)
    bar = tqdm(total=len(missing), desc=config.mode, unit="img", disable=not config.progress)
    try:
        # Batches are fixed chunks of the whole job: batch composition changes floating-point
        # results slightly, so a chunk with anything missing is recomputed whole and only the
        # missing files are written — a resumed run reproduces the same pixels.
        for i in range(0, len(items), config.batch_size):
            batch = items[i : i + config.batch_size]
            todo = [f"{it.split}/{it.file_name}" in missing for it in batch]
            if not any(todo):
                continue
            if config.mode == "text-to-image":
                images = _text_to_image(pipe, config, batch, device)
            elif config.mode == "image-to-image":
                images = _image_to_image(pipe, config, batch, device)
            else:
                images = _aligned(
                    pipe, roundtrip_fn, config, batch, device, dtype, dataset, existing, summary
                )
            for item, image, needed in zip(batch, images, todo, strict=True):
                if needed:
                    _write(dataset, config, item, image, summary.generator)
                    summary.written += 1
            bar.update(sum(todo))
            if on_progress is not None:
                on_progress(bar.n, len(missing))
    except (torch.OutOfMemoryError, MemoryError) as exc:
        raise GenerationError(
            "not enough memory: try --batch-size 1, a smaller --width/--height or --max-side, "
            f"or --dtype float16 on a GPU ({type(exc).__name__})"
        ) from exc
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            raise GenerationError(
                "not enough memory: try --batch-size 1 or smaller images"
            ) from exc
        raise
    finally:
        bar.close()
        dataset.compact()
    summary.seconds = time.perf_counter() - start
    return summary


def validate(config: GenerationConfig) -> None:
    """Raise GenerationError for a job that cannot run (before any model is loaded)."""
    if config.mode not in MODES:
        raise GenerationError(f"unknown mode {config.mode!r}; use one of {', '.join(MODES)}")
    if config.format.lower() not in FORMATS:
        raise GenerationError(f"unknown format {config.format!r}; use png, jpeg or webp")
    if config.mode != "aligned" and not config.model:
        raise GenerationError(f"{config.mode} needs --model (a pipeline folder, file or hub id)")
    if config.mode == "aligned" and not (config.autoencoder or config.model):
        raise GenerationError("aligned needs --autoencoder or --model")
    if config.mode != "text-to-image" and (
        config.images is None
        or not (Path(config.images).is_dir() or Path(config.images).suffix == ".csv")
    ):
        raise GenerationError(f"{config.mode} needs --images, a folder of photos or a manifest.csv")
    if config.batch_size < 1 or config.count < 0:
        raise GenerationError("--batch-size must be ≥ 1 and --count ≥ 0")


def _slug(model: str) -> str:
    name = Path(model.rstrip("/")).name or model
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:40] or "model"


def _readable(path: Path, rejected: list[tuple[str, str]]) -> bool:
    """Whether a photo decodes; unreadable ones are listed and left out, not fatal."""
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        rejected.append((str(path), f"{type(exc).__name__}: {str(exc)[:120]}"))
        return False


def _photo_root(config: GenerationConfig) -> Path:
    images = Path(config.images)
    return images.parent if images.suffix == ".csv" else images


def _photo_paths(config: GenerationConfig) -> list[Path]:
    """The photos of --images: every image under a folder, or the real photos of a corpus
    manifest.csv (only those of ``images_split`` when set, so that fakes made for training
    come from training photos only)."""
    images = Path(config.images)
    if images.suffix != ".csv":
        return [
            p
            for p in sorted(images.rglob("*"))
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        ]
    from pixelsleuth.datasets.samples import corpus_split, from_manifest

    split = config.images_split
    return [
        s.path
        for s in from_manifest(images)
        if s.label == 0 and (split is None or corpus_split(s.path) == split)
    ]


def _items(config: GenerationConfig, slug: str, rejected: list[tuple[str, str]]) -> Iterator[_Item]:
    ext = "jpg" if FORMATS[config.format.lower()] == "JPEG" else config.format.lower()
    holdout = {slug: config.holdout_split} if config.holdout_split else None
    short = {"text-to-image": "t2i", "image-to-image": "i2i", "aligned": "aligned"}[config.mode]
    if config.mode == "text-to-image":
        prompts = (
            read_prompts(config.prompts_file)
            if config.prompts_file
            else sample_prompts(config.count, config.seed)
        )
        for i in range(config.count):
            seed = config.seed + i
            name = f"{slug}-{short}-{seed:08d}.{ext}"
            yield _Item(
                assign_split(name, config.fractions, slug, holdout),
                name,
                seed,
                prompts[i % len(prompts)],
            )
        return
    photos = [p for p in _photo_paths(config) if _readable(p, rejected)]
    if config.count:
        photos = photos[: config.count]
    prompts = (
        read_prompts(config.prompts_file)
        if config.prompts_file
        else sample_prompts(max(len(photos), 1), config.seed)
    )
    for i, photo in enumerate(photos):
        key = hashlib.sha256(str(photo.relative_to(_photo_root(config))).encode()).hexdigest()[:10]
        stem = re.sub(r"[^A-Za-z0-9]+", "-", photo.stem)[:40]
        # pairs stay together: the split follows the photo, not the file
        split = assign_split(key, config.fractions, slug, holdout)
        yield _Item(
            split,
            f"{slug}-{short}-{stem}-{key}.{ext}",
            config.seed + i,
            prompts[i % len(prompts)],
            photo,
            f"real-{stem}-{key}.{ext}" if config.mode == "aligned" else None,
        )


def _generators(batch: list[_Item]) -> list[torch.Generator]:
    # CPU generators: the same seed gives the same noise on every device
    return [torch.Generator("cpu").manual_seed(item.seed) for item in batch]


def _size_kwargs(config: GenerationConfig) -> dict[str, int]:
    out = {}
    if config.width:
        out["width"] = config.width
    if config.height:
        out["height"] = config.height
    return out


def _text_to_image(pipe: Any, config: GenerationConfig, batch: list[_Item], device: str):
    result = pipe(
        prompt=[it.prompt for it in batch],
        negative_prompt=[config.negative_prompt] * len(batch)
        if config.negative_prompt and config.guidance > 1
        else None,
        num_inference_steps=config.steps,
        guidance_scale=config.guidance,
        generator=_generators(batch),
        output_type="pil",
        **_size_kwargs(config),
    )
    return result.images


def _load_photo(path: Path, config: GenerationConfig, multiple: int = 8) -> Image.Image:
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
    except (OSError, ValueError) as exc:
        raise GenerationError(f"cannot read the photo {path}: {exc}") from exc
    if config.max_side and max(im.size) > config.max_side:
        im.thumbnail((config.max_side, config.max_side), Image.Resampling.LANCZOS)
    w, h = im.width - im.width % multiple, im.height - im.height % multiple
    return im.crop((0, 0, w, h)) if (w, h) != im.size else im


def _image_to_image(
    pipe: Any,
    config: GenerationConfig,
    batch: list[_Item],
    device: str,
    strength: float | None = None,
    photos: list[Image.Image] | None = None,
):
    i2i = image_to_image(pipe)
    photos = photos or [_load_photo(it.source, config) for it in batch]
    out = []
    for item, photo, gen in zip(batch, photos, _generators(batch), strict=True):
        # one at a time: photos differ in size
        out.append(
            i2i(
                prompt=item.prompt,
                image=photo,
                strength=strength or config.strength,
                negative_prompt=config.negative_prompt if config.guidance > 1 else None,
                num_inference_steps=config.steps,
                guidance_scale=config.guidance,
                generator=gen,
                output_type="pil",
            )
            .images[0]
            .resize(photo.size)
        )
    return out


def _aligned(pipe, roundtrip_fn, config, batch, device, dtype, dataset, existing, summary):
    from pixelsleuth.datasets.aligned import psnr, roundtrip

    photos = [_load_photo(it.source, config) for it in batch]
    fakes = []
    for item, photo in zip(batch, photos, strict=True):
        rgb = np.asarray(photo)
        fake = roundtrip(
            roundtrip_fn,
            rgb,
            tile=config.tile,
            device=device,
            dtype=dtype if device != "cpu" else torch.float32,
        )
        summary.psnr.append(psnr(rgb, fake))
        fakes.append(Image.fromarray(fake))
        if f"{item.split}/{item.real_file}" not in existing:
            _write_real_twin(dataset, config, item, photo)
            summary.real_written += 1
    if pipe is not None and config.aligned_strength > 0:
        fakes = _image_to_image(pipe, config, batch, device, config.aligned_strength, fakes)
    return fakes


def encode_image(
    image: Image.Image, format: str, quality: int, metadata: dict[str, Any] | None = None
) -> bytes:
    """``image`` as png/jpeg/webp bytes (``quality`` for the lossy ones); with ``metadata``,
    the provenance XMP and generation record are embedded."""
    fmt = FORMATS[format.lower()]
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = quality
    if metadata is not None:
        xmp = _xmp(metadata)
        if fmt == "PNG":
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", xmp.decode())
            info.add_text("pixelsleuth", json.dumps(metadata))
            kwargs["pnginfo"] = info
        else:
            kwargs["xmp"] = xmp
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _xmp(metadata: dict[str, Any]) -> bytes:
    """IPTC DigitalSourceType 'trainedAlgorithmicMedia' and the creator tool, as XMP."""
    from xml.sax.saxutils import quoteattr

    tool = f"pixelsleuth {__version__} ({metadata.get('generator', {}).get('model_id', '')})"
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        f'Iptc4xmpExt:DigitalSourceType="{AI_SOURCE_TYPE}" xmp:CreatorTool={quoteattr(tool)}/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def _write(
    dataset: ImageFolderDataset,
    config: GenerationConfig,
    item: _Item,
    image: Image.Image,
    generator: dict[str, Any],
) -> None:
    row = Row(
        file_name=item.file_name,
        label="ai",
        source=config.mode,
        generator=generator,
        steps=None if config.mode == "aligned" and config.aligned_strength <= 0 else config.steps,
        guidance=None
        if config.mode == "aligned" and config.aligned_strength <= 0
        else config.guidance,
        strength={
            "image-to-image": config.strength,
            "aligned": config.aligned_strength or None,
        }.get(config.mode),
        seed=item.seed,
        prompt=item.prompt if config.mode != "aligned" or config.aligned_strength > 0 else None,
        negative_prompt=(
            config.negative_prompt
            if config.mode != "aligned" or config.aligned_strength > 0
            else None
        ),
        real_twin=f"{item.split}/{item.real_file}" if item.real_file else None,
        width=image.width,
        height=image.height,
        format=FORMATS[config.format.lower()],
        provenance_metadata=config.provenance,
        extra={"source_image": str(item.source)} if item.source else {},
    )
    meta = (
        {k: v for k, v in asdict(row).items() if v not in (None, {})} if config.provenance else None
    )
    data = encode_image(image, config.format, config.quality, meta)
    (dataset.split_dir(item.split) / item.file_name).write_bytes(data)
    dataset.append(item.split, row)


def _write_real_twin(
    dataset: ImageFolderDataset, config: GenerationConfig, item: _Item, photo: Image.Image
) -> None:
    """The real photo, re-encoded exactly like its fake (format, quality, no metadata)."""
    data = encode_image(photo, config.format, config.quality)
    (dataset.split_dir(item.split) / item.real_file).write_bytes(data)
    dataset.append(
        item.split,
        Row(
            file_name=item.real_file,
            label="real",
            source="camera",
            width=photo.width,
            height=photo.height,
            format=FORMATS[config.format.lower()],
            original_path=str(item.source),
        ),
    )
