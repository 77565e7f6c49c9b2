"""Loading diffusers pipelines and autoencoders for dataset generation.

A model is a local folder (``save_pretrained`` layout), a single checkpoint file
(``.safetensors``/``.ckpt``, loaded with ``from_single_file``) or a Hugging Face hub id. The
pipeline class (Stable Diffusion 1.x/2.x, SDXL, Latent Consistency) comes from the model
itself. LCM-LoRA is a LoRA loaded on top of an SD/SDXL pipeline with ``LCMScheduler``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


class GenerationError(Exception):
    """A problem the user can fix (model not found, wrong path, not enough memory)."""


def pick_device(device: str | None = None) -> str:
    """``device`` if given, else cuda, then mps, then cpu."""
    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise GenerationError("CUDA was requested but no CUDA device is available")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, dtype: str | None = None) -> torch.dtype:
    """float16 on GPUs, float32 on CPU (where half precision is slow or unsupported)."""
    if dtype:
        try:
            return {
                "float32": torch.float32,
                "float16": torch.float16,
                "bfloat16": torch.bfloat16,
                "fp32": torch.float32,
                "fp16": torch.float16,
                "bf16": torch.bfloat16,
            }[dtype]
        except KeyError:
            raise GenerationError(
                f"unknown dtype {dtype!r}; use float32, float16 or bfloat16"
            ) from None
    return torch.float32 if device == "cpu" else torch.float16


def _looks_local(model: str) -> bool:
    return (
        model.startswith((".", "/", "~"))
        or "\\" in model
        or Path(model).exists()
        or (model.count("/") != 1)
    )


def load_pipeline(
    model: str,
    device: str,
    dtype: torch.dtype,
    lora: str | None = None,
    scheduler: str | None = None,
    config: str | None = None,
) -> Any:
    """A text-to-image pipeline on ``device``. ``scheduler="lcm"`` swaps in LCMScheduler (for
    LCM-LoRA); ``lora`` is a LoRA folder or file loaded onto the pipeline. ``config`` (a
    diffusers folder or hub id) gives a single-file checkpoint its component configs, which
    diffusers otherwise fetches from the hub."""
    from diffusers import DiffusionPipeline, StableDiffusionPipeline, StableDiffusionXLPipeline

    path = Path(model).expanduser()
    try:
        if path.is_file() and path.suffix in (".safetensors", ".ckpt"):
            cls = (
                StableDiffusionXLPipeline if "xl" in path.name.lower() else StableDiffusionPipeline
            )
            extra = {"config": config} if config else {}
            pipe = cls.from_single_file(str(path), dtype=dtype, **extra)
        elif path.is_dir():
            if not (path / "model_index.json").is_file():
                raise GenerationError(
                    f"{path} is not a diffusers pipeline folder (no model_index.json)"
                )
            pipe = DiffusionPipeline.from_pretrained(str(path), dtype=dtype)
        elif _looks_local(model):
            raise GenerationError(f"no such model folder or file: {model}")
        else:
            pipe = DiffusionPipeline.from_pretrained(model, dtype=dtype)
    except GenerationError:
        raise
    except (OSError, ValueError) as exc:
        raise GenerationError(
            f"could not load the model {model!r}: {str(exc).splitlines()[0][:200]} (a hub id "
            "needs network access or a local copy in the Hugging Face cache)"
        ) from exc
    if lora:
        try:
            pipe.load_lora_weights(str(Path(lora).expanduser()))
        except (OSError, ValueError) as exc:
            raise GenerationError(f"could not load the LoRA {lora!r}: {exc}") from exc
    if scheduler == "lcm":
        from diffusers import LCMScheduler

        pipe.scheduler = LCMScheduler.from_config(pipe.scheduler.config)
    elif scheduler:
        raise GenerationError(f"unknown scheduler {scheduler!r} (supported: lcm)")
    if getattr(pipe, "safety_checker", None) is not None:
        pipe.safety_checker = None  # research data: never replace outputs with black images
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def image_to_image(pipe: Any) -> Any:
    """The image-to-image pipeline sharing ``pipe``'s components."""
    from diffusers import AutoPipelineForImage2Image

    i2i = AutoPipelineForImage2Image.from_pipe(pipe)
    i2i.set_progress_bar_config(disable=True)
    return i2i


def describe(pipe: Any, model: str) -> dict[str, Any]:
    return {
        "model_id": model,
        "pipeline": type(pipe).__name__,
        "scheduler": type(pipe.scheduler).__name__,
    }


# -- autoencoders for aligned fakes ---------------------------------------------------------


def load_autoencoder_fn(
    path: str, device: str
) -> tuple[Callable[[torch.Tensor], torch.Tensor], dict[str, Any]]:
    """An encode→decode function on [0, 1] images for an autoencoder folder: the project's
    TinyAutoencoder (config.json or the original ``*_encoder.pth`` pair), diffusers'
    ``AutoencoderTiny`` or ``AutoencoderKL``, or a pipeline folder (its ``vae``)."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise GenerationError(f"no such autoencoder folder: {path}")
    if (folder / "model_index.json").is_file():
        folder = folder / "vae"
    config_file = folder / "config.json"
    class_name = (
        json.loads(config_file.read_text()).get("_class_name") if config_file.is_file() else None
    )
    info = {"model_id": str(path), "pipeline": class_name or "TinyAutoencoder", "scheduler": None}
    if class_name in ("AutoencoderKL", "AutoencoderTiny"):
        import diffusers

        vae = getattr(diffusers, class_name).from_pretrained(folder, dtype=torch.float32)
        vae = vae.to(device).eval()

        def kl_roundtrip(x: torch.Tensor) -> torch.Tensor:
            x = x.to(device=device) * 2 - 1  # diffusers' VAEs work in [-1, 1]
            if class_name == "AutoencoderKL":
                latents = vae.encode(x).latent_dist.mode()  # the mode: deterministic
            else:
                latents = vae.encode(x).latents
            return (vae.decode(latents).sample + 1) / 2

        return kl_roundtrip, info
    from pixelsleuth.datasets.autoencoders import load_autoencoder

    try:
        model = load_autoencoder(folder)
    except (FileNotFoundError, RuntimeError, KeyError) as exc:
        raise GenerationError(f"{path} is not a tiny-autoencoder folder: {exc}") from exc
    model = model.to(device).to(memory_format=torch.channels_last)
    return model, info
