"""Tiny but real diffusers pipelines, built from small configs and saved with save_pretrained,
so that tests exercise the same from_pretrained path a user takes with real weights."""

from __future__ import annotations

import json
from pathlib import Path

import torch

WORDS = (  # noqa: SIM905
    "a an the of in on at with photo painting portrait landscape city street dog cat car "
    "house tree river mountain sky night day sunrise sunset red blue green old young man "
    "woman child boat bicycle market coffee forest beach snow rain fog light dark studio "
    "film digital close far blurry low quality watermark text signature"
).split()


def tiny_tokenizer(folder: Path):
    """A CLIP BPE tokenizer whose vocabulary is the characters and WORDS above."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2}
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789.,":
        for token in (ch, ch + "</w>"):
            vocab.setdefault(token, len(vocab))
    merges = []
    for word in WORDS:  # merge each word left to right into a whole-word token
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            a, b = parts[0], parts[1]
            merges.append(f"{a} {b}")
            parts = [a + b, *parts[2:]]
            vocab.setdefault(parts[0], len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
    tok = CLIPTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        pad_token="<|endoftext|>",
        model_max_length=77,
    )
    return tok


def _text_encoder(vocab_size: int, projection: bool = False):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=vocab_size,
        max_position_embeddings=77,
        projection_dim=32,
    )
    return CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)


def _vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=8,
        sample_size=32,
    )


def _unet(cross_attention_dim: int = 32, **extra):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        norm_num_groups=8,
        attention_head_dim=4,
        **extra,
    )


def build_sd(folder: Path, lcm: bool = False) -> Path:
    """A tiny StableDiffusionPipeline (or LatentConsistencyModelPipeline) saved to ``folder``."""
    from diffusers import (
        DDIMScheduler,
        LatentConsistencyModelPipeline,
        LCMScheduler,
        StableDiffusionPipeline,
    )

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(folder / "_tok")
    parts = dict(
        unet=_unet(time_cond_proj_dim=32) if lcm else _unet(),
        vae=_vae(),
        text_encoder=_text_encoder(len(tokenizer)),
        tokenizer=tokenizer,
    )
    if lcm:
        pipe = LatentConsistencyModelPipeline(
            scheduler=LCMScheduler(),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
            **parts,
        )
    else:
        pipe = StableDiffusionPipeline(
            scheduler=DDIMScheduler(
                beta_schedule="scaled_linear", clip_sample=False, steps_offset=1
            ),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
            **parts,
        )
    pipe.save_pretrained(folder)
    return folder


def build_sdxl(folder: Path) -> Path:
    """A tiny StableDiffusionXLPipeline saved to ``folder``."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(folder / "_tok")
    unet = _unet(
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=32 + 6 * 8,
        cross_attention_dim=64,
        transformer_layers_per_block=1,
    )
    pipe = StableDiffusionXLPipeline(
        unet=unet,
        vae=_vae(),
        scheduler=EulerDiscreteScheduler(),
        text_encoder=_text_encoder(len(tokenizer)),
        text_encoder_2=_text_encoder(len(tokenizer), projection=True),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(folder)
    return folder


def build_lora(folder: Path, base: Path) -> Path:
    """A tiny LoRA for the SD UNet, saved in diffusers' LoRA format (rank 4)."""
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = StableDiffusionPipeline.from_pretrained(base)
    config = LoraConfig(
        r=4,
        lora_alpha=4,
        target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        init_lora_weights="gaussian",
    )
    pipe.unet.add_adapter(config)
    StableDiffusionPipeline.save_lora_weights(
        folder,
        unet_lora_layers=get_peft_model_state_dict(pipe.unet),
        safe_serialization=True,
    )
    return folder
