"""The CNN detector: a residual front end and a timm ResNet cut after its second stage.

The network sees a high-pass residual of the image, never the image itself, so it has little
content to learn from and much trace: NPR's x − up(down(x)) (nearest-neighbour, factor 2),
which exposes the local correlations that generators' upsampling layers leave. It works on
crops at native resolution (no resizing) and averages the logits of several crops.

Weights are stored as safetensors only; :meth:`ResidualDetector.from_pretrained` refuses any
other file, because pickled weights can run code when loaded.
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch.fx.experimental.optimization import fuse

WEIGHTS_NAME = "model.safetensors"
HUB_PREFIX = "hf:"  # PIXELSLEUTH_DETECTOR_WEIGHTS=hf:org/name downloads from the hub
CONFIG_NAME = "config.json"
UNSAFE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass
class DetectorConfig:
    # a timm ResNet or EfficientNet(-Lite); cut after feature level ``stages``
    backbone: str = "resnet34"
    stages: int = 2
    residual: str = "npr"  # "npr": x − up(down(x)); "none": the image itself
    crop: int = 256  # pixels; crops are taken at native resolution
    # input normalisation (mean, std) when residual is "none"; None: ImageNet's per channel.
    # EfficientNet-Lite's ImageNet weights expect (0.5, 0.5).
    norm: tuple[float, float] | None = None
    crops: int = 4  # crops averaged per image at inference
    # Shorter side (pixels) below which an image gets no score; None: the crop size. A smaller
    # image cannot fill one native crop, and padding it shows the network mirrored content it
    # was never calibrated on (on the corpus, thumbnails of 113×85 and 126×115 from cameras
    # were this detector's two false alarms on unseen camera photos).
    min_side: int | None = None
    # Platt calibration: p = sigmoid(platt_a · logit + platt_b); "AI" when p ≥ threshold
    platt_a: float = 1.0
    platt_b: float = 0.0
    threshold: float = 0.5
    training: dict[str, Any] = field(default_factory=dict)  # recipe and data, for the card


class ImageTooSmall(ValueError):
    """The image is smaller than the detector's minimum side: no score, rather than a guess."""


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """x − nearest-upsample(nearest-downsample(x)) by 2, on N×C×H×W (H, W even), scaled ×4 so
    that its spread is comparable to the image's."""
    down = x[:, :, ::2, ::2]
    up = F.interpolate(down, scale_factor=2.0, mode="nearest")
    return (x - up[:, :, : x.shape[2], : x.shape[3]]) * 4.0


class ResidualDetector(nn.Module):
    """logit = f(residual(crop)); higher means more likely AI-generated."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        super().__init__()
        self.config = config or DetectorConfig()
        # inference arithmetic, not a property of the weights: see inference_dtype()
        self.precision = "auto"
        self.backbone = timm.create_model(
            self.config.backbone,
            pretrained=False,
            features_only=True,
            out_indices=(self.config.stages,),
        )
        stage_ends = getattr(self.backbone, "_stage_out_idx", None)
        if stage_ends and isinstance(getattr(self.backbone, "blocks", None), nn.Sequential):
            # timm's EfficientNet feature extractor keeps every block even when only an early
            # level is returned: drop the blocks that would run for nothing
            self.backbone.blocks = self.backbone.blocks[: max(stage_ends)]
        channels = self.backbone.feature_info.channels()[-1]
        self.head = nn.Linear(channels, 1)
        # ImageNet-like normalisation is meaningless for residuals: a fixed scale instead
        mean, std = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        if self.config.norm is not None:
            mean, std = [self.config.norm[0]] * 3, [self.config.norm[1]] * 3
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: N×3×H×W in [0, 1]. Returns N logits."""
        return self._forward(x, self.backbone)

    def _forward(self, x: torch.Tensor, backbone: nn.Module) -> torch.Tensor:
        x = npr_residual(x) if self.config.residual == "npr" else (x - self.mean) / self.std
        features = backbone(x)[-1]
        return self.head(features.mean(dim=(2, 3))).squeeze(1)

    def _inference_backbone(self) -> nn.Module:
        """The backbone with its batch norms folded into the convolutions, in channels-last
        memory: about twice as fast on a CPU, the same logits to ~1e-6. Built on first use
        and rebuilt whenever the weights change (an optimizer step or load_state_dict bumps
        the tensors' versions) or move to another device."""
        tensors = [*self.parameters(), *self.buffers()]
        key = (sum(t._version for t in tensors), tensors[0].device)
        cached = self.__dict__.get("_fast")  # not a submodule: never saved, never trained
        if cached is None or cached[0] != key:
            backbone = copy.deepcopy(self.backbone).eval()
            with contextlib.suppress(Exception):  # a backbone torch.fx cannot trace: unfused
                backbone = fuse(backbone)
            self.__dict__["_fast"] = cached = (key, backbone.to(memory_format=torch.channels_last))
        return cached[1]

    # -- persistence ----------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, folder / WEIGHTS_NAME, metadata={"format": "pt"})
        (folder / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        return folder

    @classmethod
    def from_pretrained(cls, path: str | Path, **hub_kwargs: Any) -> ResidualDetector:
        """Load from a folder (config.json + model.safetensors) or a Hugging Face hub id
        written ``hf:org/name`` (the only form that reaches the network, so that a mistyped
        path is never looked up online).

        Raises ValueError for weights in any format but safetensors, FileNotFoundError (in
        words) for a path that does not exist.
        """
        text = str(path)
        folder = Path(path).expanduser()
        if text.startswith(HUB_PREFIX):
            from huggingface_hub import snapshot_download

            folder = Path(
                snapshot_download(
                    text[len(HUB_PREFIX) :],
                    allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, "*.md"],
                    **hub_kwargs,
                )
            )
        elif not folder.exists():
            raise FileNotFoundError(
                f"the detector weights {text} do not exist (give a folder, a .safetensors "
                f"file, or a Hugging Face hub id written {HUB_PREFIX}org/name)"
            )
        elif folder.is_file():
            if folder.suffix in UNSAFE_SUFFIXES or folder.suffix != ".safetensors":
                raise ValueError(
                    f"{folder.name}: only .safetensors weights are loaded (pickled formats "
                    "such as .bin/.pt/.pth can run code when opened)"
                )
            folder = folder.parent
        weights = folder / WEIGHTS_NAME
        if not weights.is_file():
            unsafe = [p.name for p in folder.iterdir() if p.suffix in UNSAFE_SUFFIXES]
            hint = f" (found {', '.join(unsafe)}: pickled weights are refused)" if unsafe else ""
            raise ValueError(f"no {WEIGHTS_NAME} in {folder}{hint}")
        data = json.loads((folder / CONFIG_NAME).read_text())
        known = DetectorConfig.__dataclass_fields__
        model = cls(DetectorConfig(**{k: v for k, v in data.items() if k in known}))
        model.load_state_dict(load_file(weights), strict=True)
        return model.eval()

    # -- inference ------------------------------------------------------------------------------
    @property
    def min_side(self) -> int:
        """The shortest image side, in pixels, that :meth:`score_image` accepts."""
        return self.config.min_side or self.config.crop

    def probability(self, rgb: np.ndarray) -> float | None:
        """The calibrated probability of AI, or None for an image under :attr:`min_side`."""
        try:
            return self.score_image(rgb)[0]
        except ImageTooSmall:
            return None

    @torch.inference_mode()
    def score_image(self, rgb: np.ndarray) -> tuple[float, float]:
        """(calibrated probability of AI, mean logit) for a uint8 H×W×3 image, from up to
        ``config.crops`` native-resolution crops spread over the image.

        Raises :class:`ImageTooSmall` when a side is under :attr:`min_side`."""
        h, w = rgb.shape[:2]
        if min(h, w) < self.min_side:
            raise ImageTooSmall(
                f"{w}×{h} px is under the detector's minimum of {self.min_side} px a side: too "
                "few native pixels to judge"
            )
        crops = image_crops(rgb, self.config.crop, self.config.crops)
        x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255.0)
        device = self.head.weight.device
        x = x.to(device)
        if self.training:  # batch statistics: the plain network
            logit = float(self(x).mean())
        else:
            x = x.contiguous(memory_format=torch.channels_last)
            bf16 = self.inference_dtype() is torch.bfloat16
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = self._forward(x, self._inference_backbone())
            logit = float(logits.float().mean())
        return self.calibrate(logit), logit

    def inference_dtype(self) -> torch.dtype:
        """The arithmetic of :meth:`score_image` (see :func:`compute_dtype`): on a CPU with
        bfloat16 instructions about 1.8× faster than float32, logits within ~0.01 of it
        (measured on the corpus, see the model card). ``self.precision`` ("auto"; the analyzer
        sets Settings.detector_precision) can force either."""
        return compute_dtype(self.precision, self.head.weight.device)

    def calibrate(self, logit: float | np.ndarray) -> float | np.ndarray:
        """Calibrated probability of AI for a (mean) logit."""
        z = self.config.platt_a * np.asarray(logit, dtype=np.float64) + self.config.platt_b
        p = 1.0 / (1.0 + np.exp(-z))
        return float(p) if np.ndim(p) == 0 else p


def compute_dtype(precision: str, device: torch.device | str) -> torch.dtype:
    """The dtype the network computes in for ``precision`` ("auto", "float32", "bfloat16") on
    ``device``. "auto" is bfloat16 where the hardware has it natively (a CPU with AVX-512 BF16
    or AMX, a CUDA GPU that supports it) and float32 elsewhere, where emulated bfloat16 would
    only be slower."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {PRECISIONS}")
    if precision != "auto":
        return getattr(torch, precision)
    kind = torch.device(device).type
    if kind == "cpu":
        native = _native_cpu_bfloat16()
    else:
        native = kind == "cuda" and torch.cuda.is_bf16_supported()
    return torch.bfloat16 if native else torch.float32


def _native_cpu_bfloat16() -> bool:
    """Whether this CPU has bfloat16 instructions (elsewhere oneDNN emulates them, slowly)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(getattr(cpu, name)() for name in checks if hasattr(cpu, name))
    except Exception:  # a torch without these private probes: stay exact
        return False


def image_crops(rgb: np.ndarray, size: int, count: int) -> list[np.ndarray]:
    """``count`` crops of ``size``² (even-aligned) on a regular grid over the image; a smaller
    image is reflect-padded to ``size``."""
    h, w = rgb.shape[:2]
    if h < size or w < size:
        rgb = np.pad(rgb, ((0, max(0, size - h)), (0, max(0, size - w)), (0, 0)), mode="reflect")
        h, w = rgb.shape[:2]
    side = int(np.ceil(np.sqrt(count)))
    ys = np.linspace(0, h - size, side).astype(int) // 2 * 2
    xs = np.linspace(0, w - size, side).astype(int) // 2 * 2
    spots = [(y, x) for y in ys for x in xs][:count]
    return [np.ascontiguousarray(rgb[y : y + size, x : x + size]) for y, x in spots]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
