"""Tiny autoencoders (the TAESD family), including the mid-block variant diffusers lacks.

TAESD-style autoencoders approximate a diffusion model's VAE with small convolutional nets:
an encoder to the latent space (1/8 resolution) and a decoder back. The FLUX.2 variant
("taef2", 32 latent channels) adds a pooled side branch to the blocks at the bottleneck; this
module implements both layouts with state-dict keys that match the published weights
(``nn.Sequential`` indices), and gives them diffusers' ``from_pretrained``/``save_pretrained``
(config.json + safetensors). :meth:`TinyAutoencoder.from_taesd_files` reads the original
``*_encoder.pth`` / ``*_decoder.pth`` state dicts safely (``weights_only=True``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


def _conv(cin: int, cout: int, **kwargs) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, **kwargs)


class Clamp(nn.Module):
    """Soft clamp of latents to about ±3."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """conv-ReLU-conv-ReLU-conv plus identity, then ReLU. With ``pooled``, a 1×1 side branch
    (64→256, GroupNorm, ReLU, 256→64) is first added to the input (the mid-block variant)."""

    def __init__(self, channels: int, pooled: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            _conv(channels, channels),
            nn.ReLU(),
            _conv(channels, channels),
            nn.ReLU(),
            _conv(channels, channels),
        )
        self.pool = (
            nn.Sequential(
                nn.Conv2d(channels, 4 * channels, 1, bias=False),
                nn.GroupNorm(4, 4 * channels),
                nn.ReLU(),
                nn.Conv2d(4 * channels, channels, 1, bias=False),
            )
            if pooled
            else None
        )
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + x)


def build_encoder(latent_channels: int, channels: int, mid_blocks: bool) -> nn.Sequential:
    layers: list[nn.Module] = [_conv(3, channels), Block(channels)]
    for stage in range(3):
        pooled = mid_blocks and stage == 2
        layers += [_conv(channels, channels, stride=2, bias=False)]
        layers += [Block(channels, pooled) for _ in range(3)]
    layers.append(_conv(channels, latent_channels))
    return nn.Sequential(*layers)


def build_decoder(latent_channels: int, channels: int, mid_blocks: bool) -> nn.Sequential:
    layers: list[nn.Module] = [Clamp(), _conv(latent_channels, channels), nn.ReLU()]
    layers += [Block(channels, mid_blocks) for _ in range(3)]
    for blocks in (3, 3, 1):
        layers += [nn.Upsample(scale_factor=2), _conv(channels, channels, bias=False)]
        layers += [Block(channels) for _ in range(blocks)]
    layers.append(_conv(channels, 3))
    return nn.Sequential(*layers)


class TinyAutoencoder(ModelMixin, ConfigMixin):
    """A TAESD-family autoencoder. Images are RGB in [0, 1], N×3×H×W with H and W multiples
    of 8; latents are N×``latent_channels``×H/8×W/8.

    ``mid_blocks=True`` is the FLUX.2 layout (taef2); ``False`` the SD/SDXL/FLUX.1 one.
    """

    @register_to_config
    def __init__(self, latent_channels: int = 32, channels: int = 64, mid_blocks: bool = True):
        super().__init__()
        self.encoder = build_encoder(latent_channels, channels, mid_blocks)
        self.decoder = build_decoder(latent_channels, channels, mid_blocks)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decoder(latents).clamp(0, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))

    @classmethod
    def from_taesd_files(cls, folder: str | Path, prefix: str | None = None) -> TinyAutoencoder:
        """Build from the original ``<prefix>_encoder.pth`` and ``<prefix>_decoder.pth``
        state dicts; the layout (latent channels, mid blocks) is read from the weights."""
        folder = Path(folder)
        if prefix is None:
            found = sorted(folder.glob("*_encoder.pth"))
            if not found:
                raise FileNotFoundError(f"no *_encoder.pth in {folder}")
            prefix = found[0].name[: -len("_encoder.pth")]
        enc = torch.load(folder / f"{prefix}_encoder.pth", map_location="cpu", weights_only=True)
        dec = torch.load(folder / f"{prefix}_decoder.pth", map_location="cpu", weights_only=True)
        last = max(int(k.split(".")[0]) for k in enc)
        latent_channels = int(enc[f"{last}.weight"].shape[0])
        channels = int(enc["0.weight"].shape[0])
        mid_blocks = any(".pool." in k for k in enc)
        model = cls(latent_channels=latent_channels, channels=channels, mid_blocks=mid_blocks)
        model.encoder.load_state_dict(enc, strict=True)
        model.decoder.load_state_dict(dec, strict=True)
        return model.eval()


def load_autoencoder(path: str | Path) -> TinyAutoencoder:
    """A tiny autoencoder from a folder: ``save_pretrained`` output (config.json) or the
    original ``*_encoder.pth``/``*_decoder.pth`` pair."""
    path = Path(path)
    if (path / "config.json").is_file():
        return TinyAutoencoder.from_pretrained(path).eval()
    return TinyAutoencoder.from_taesd_files(path)
