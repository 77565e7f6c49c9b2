"""`pixelsleuth train`: train the residual detector on an imagefolder dataset or a manifest.

Recipe: native-resolution patches decoded once, augmented per epoch (same JPEG qualities,
rescales, blur, crops and flips for both classes), class-balanced BCE, AdamW with cosine
decay, a validation split that holds out a whole generator, early stopping on validation AUC,
Platt calibration of the logits on validation data, and a decision threshold set for a low
false-positive rate on validation real photos. Deterministic by seed.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from pixelsleuth.datasets.samples import hash_unit
from pixelsleuth.detectors.data import Augment, PatchDataset, Sample, load_patches, load_samples
from pixelsleuth.detectors.model import (
    DetectorConfig,
    ResidualDetector,
    compute_dtype,
    count_parameters,
)
from pixelsleuth.detectors.pretrained import load_backbone_init


@dataclass
class TrainConfig:
    data: list[str]
    out: Path
    exclude_groups: list[str] = field(default_factory=list)  # e.g. ["ai/comfyui"] for LOGO
    split: str | None = None  # corpus split of manifests (imagefolder datasets used whole)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 4
    patch: int = 320  # decoded patch side; crops of `crop` are taken from it per epoch
    crop: int = 256
    patches_per_image: int = 4
    max_images_per_group: int | None = None
    backbone: str = "resnet34"
    stages: int = 2
    residual: str = "npr"  # "npr" or "none" (see DetectorConfig)
    # safetensors the backbone starts from (pretrained.convert_lite0 writes EfficientNet-Lite0's
    # ImageNet weights); None: random initialisation
    init: str | None = None
    norm: tuple[float, float] | None = None
    webp: float = 0.0  # share of the crops not JPEG-compressed that are WebP-compressed instead
    jpeg: float = 0.8  # share of crops JPEG-compressed (random quality)
    target_fpr: float = 0.05
    seed: int = 0
    threads: int | None = None
    device: str = "auto"  # "auto": the first CUDA GPU when there is one, else the CPU
    precision: str = "auto"  # see model.compute_dtype: bfloat16 where the hardware has it
    progress: bool = True


def split_train_validation(
    samples: list[Sample], seed: int
) -> tuple[list[Sample], list[Sample], str | None]:
    """Validation = one whole AI group (so early stopping rewards what generalises to an
    unseen generator) plus 15 % of the real photos; the rest trains. The group is drawn
    among those with at least 5 images and at most a quarter of the AI images, so that
    holding it out does not starve training. Real photos are assigned by their source photo
    (:attr:`Sample.source_name`), so a validation photo's re-encoded twin never trains, and
    aligned fakes made from a validation photo are left out altogether: the threshold is set
    on validation reals and must not see their content in training."""
    ai_groups = sorted({s.group for s in samples if s.label == 1})
    counts = {g: sum(1 for s in samples if s.group == g) for g in ai_groups}
    n_ai = sum(counts.values())
    candidates = [g for g in ai_groups if 5 <= counts[g] <= n_ai / 4] or [
        g for g in ai_groups if counts[g] >= 5
    ]
    held = None
    if len(candidates) > 1:
        held = random.Random(seed).choice(candidates)

    def real_in_validation(s: Sample) -> bool:
        return hash_unit(f"{seed}:{s.source_name}") < 0.15

    val_sources = {s.source_name for s in samples if s.label == 0 and real_in_validation(s)}
    train, val = [], []
    for s in samples:
        if s.label == 0:
            in_val = real_in_validation(s)
        elif held:
            in_val = s.group == held
        else:
            in_val = hash_unit(f"{seed}:{s.path}") < 0.15
        if s.label == 1 and not in_val and s.origin and s.origin in val_sources:
            continue  # made from a validation photo: neither side
        (val if in_val else train).append(s)
    return train, val, held


def _patches(
    samples: list[Sample], cfg: TrainConfig, rng: random.Random, desc: str, balance: bool = True
) -> tuple[list[tuple[np.ndarray, int]], list[int]]:
    """In-memory patches with labels, and the index of the image each came from; with
    ``balance`` the minority class gets more patches per image so both classes weigh the same."""
    n_ai = sum(s.label for s in samples)
    n_real = len(samples) - n_ai
    out: list[tuple[np.ndarray, int]] = []
    owners: list[int] = []
    for index, s in enumerate(tqdm(samples, desc=desc, unit="img", disable=not cfg.progress)):
        per = cfg.patches_per_image
        if balance and n_ai and n_real:
            ratio = (n_real / n_ai) if s.label == 1 else (n_ai / n_real)
            per = max(1, min(4 * cfg.patches_per_image, round(cfg.patches_per_image * ratio)))
        try:
            patches = load_patches(s, cfg.patch, per, rng)
        except (OSError, ValueError) as exc:
            tqdm.write(f"skipped {s.path}: {exc}")
            continue
        out += [(p, s.label) for p in patches]
        owners += [index] * len(patches)
    return out, owners


def _per_image(logits: np.ndarray, labels: np.ndarray, owners: list[int]):
    """Mean logit per image, as inference averages its crops: calibration and the threshold
    must be set on the same kind of score they are applied to."""
    ids = np.asarray(owners)
    uniq = np.unique(ids)
    mean = np.array([logits[ids == i].mean() for i in uniq])
    lab = np.array([labels[ids == i][0] for i in uniq])
    return mean, lab


def _predict(
    model: ResidualDetector, loader, device: torch.device, dtype: torch.dtype
) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    logits, labels = [], []
    with torch.inference_mode():
        for x, y in loader:
            with _autocast(device, dtype):
                out = model(_to(x, device))
            logits.append(out.float().cpu().numpy())
            labels.append(y.numpy())
    return np.concatenate(logits), np.concatenate(labels)


def _to(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    # channels-last: oneDNN's and cuDNN's fast layout for convolutions (same values)
    return x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)


def _autocast(device: torch.device, dtype: torch.dtype) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype is torch.bfloat16)


def training_device(name: str) -> torch.device:
    """``name`` as a torch device; "auto" is the first CUDA GPU when there is one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: no CUDA GPU is available here")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {name!r}: only cpu and cuda are supported")
    return device


def select_training_samples(samples: list[Sample], cfg: TrainConfig) -> list[Sample]:
    """The samples a run trains and validates on: ``cfg.exclude_groups`` left out, images that
    cannot fill one crop left out (they get no score at inference, see
    ResidualDetector.min_side, so they neither train the network nor set its threshold), and at
    most ``cfg.max_images_per_group`` per group, chosen by a seeded hash."""
    samples = [s for s in samples if s.group not in cfg.exclude_groups]
    samples = [
        s for s in samples if not (s.width and s.height and min(s.width, s.height) < cfg.crop)
    ]
    if cfg.max_images_per_group:
        by_group: dict[str, list[Sample]] = {}
        for s in samples:
            by_group.setdefault(s.group, []).append(s)
        samples = [
            s
            for g in by_group.values()
            for s in sorted(g, key=lambda s: hash_unit(f"{cfg.seed}:{s.path}"))[
                : cfg.max_images_per_group
            ]
        ]
    return samples


def new_model(cfg: TrainConfig) -> ResidualDetector:
    """The untrained detector of ``cfg``'s recipe, its backbone from ``cfg.init`` if set."""
    model = ResidualDetector(
        DetectorConfig(
            backbone=cfg.backbone,
            stages=cfg.stages,
            crop=cfg.crop,
            residual=cfg.residual,
            norm=cfg.norm,
        )
    )
    if cfg.init and not load_backbone_init(model.backbone, cfg.init):
        raise ValueError(f"{cfg.init}: no tensor fits backbone {cfg.backbone}")
    return model


def _one_epoch(model, bar, opt, sched, device: torch.device, dtype: torch.dtype) -> float:
    """One pass over the training patches (``bar``: their loader); the summed loss."""
    model.train()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    total = 0.0
    for x, y in bar:
        opt.zero_grad(set_to_none=True)
        y = y.to(device)
        with _autocast(device, dtype):
            out = model(_to(x, device))
        loss = loss_fn(out.float(), y)
        loss.backward()
        opt.step()
        sched.step()
        total += loss.item() * len(y)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return total


def calibrate(
    model: ResidualDetector, logits: np.ndarray, labels: np.ndarray, target_fpr: float
) -> None:
    """Platt scaling on validation logits, then a threshold that keeps the validation real
    photos' false alarms near ``target_fpr`` (between 0.5 and 0.99); written into
    ``model.config``."""
    platt = LogisticRegression(C=1e4).fit(logits[:, None], labels)
    model.config.platt_a = float(platt.coef_[0, 0])
    model.config.platt_b = float(platt.intercept_[0])
    real_probs = model.calibrate(logits)[labels == 0]
    threshold = float(np.quantile(real_probs, 1.0 - target_fpr)) if len(real_probs) else 0.5
    model.config.threshold = float(min(max(threshold, 0.5), 0.99))


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train, calibrate and save; returns the training summary (also in the model card)."""
    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rng = random.Random(cfg.seed)
    samples = [s for src in cfg.data for s in load_samples(src, cfg.split)]
    samples = select_training_samples(samples, cfg)
    if not any(s.label for s in samples) or all(s.label for s in samples):
        raise ValueError("training needs both AI and real images")
    train_s, val_s, held = split_train_validation(samples, cfg.seed)
    augment = Augment(crop=cfg.crop, p_jpeg=cfg.jpeg, p_webp=cfg.webp)
    train_patches, _ = _patches(train_s, cfg, rng, "train patches")
    train_ds = PatchDataset(train_patches, augment, cfg.seed)
    # validation: fixed processing (JPEG q90, no flips), the same every epoch
    val_aug = Augment(crop=cfg.crop, p_jpeg=1.0, quality=(90, 90), p_rescale=0.0, p_blur=0.0)
    val_patches, val_owners = _patches(val_s, cfg, rng, "validation patches", balance=False)
    val_ds = PatchDataset(val_patches, val_aug, cfg.seed + 1)
    loader = torch.utils.data.DataLoader(
        train_ds,
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    val_loader = torch.utils.data.DataLoader(val_ds, batch_size=64)

    device = training_device(cfg.device)
    dtype = compute_dtype(cfg.precision, device)
    model = new_model(cfg).to(device, memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(train_ds) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(steps, 1))
    best_auc, best_state, bad_epochs, history = -1.0, None, 0, []
    for epoch in range(cfg.epochs):
        train_ds.epoch = epoch
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not cfg.progress)
        total = _one_epoch(model, bar, opt, sched, device, dtype)
        logits, labels = _per_image(*_predict(model, val_loader, device, dtype), val_owners)
        auc = float(roc_auc_score(labels, logits)) if len(set(labels)) == 2 else float("nan")
        history.append({"epoch": epoch + 1, "loss": total / len(train_ds), "val_auc": auc})
        if cfg.progress:
            tqdm.write(
                f"epoch {epoch + 1}: loss {total / len(train_ds):.4f}, validation AUC {auc:.4f}"
            )
        if auc > best_auc:
            best_auc, bad_epochs = auc, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
            if bad_epochs >= cfg.patience:
                break
    model.load_state_dict(best_state)
    logits, labels = _per_image(*_predict(model, val_loader, device, dtype), val_owners)
    model.to("cpu", memory_format=torch.contiguous_format)
    calibrate(model, logits, labels, cfg.target_fpr)
    summary = {
        "parameters": count_parameters(model),
        "train_images": len(train_s),
        "validation_images": len(val_s),
        "train_patches": len(train_ds),
        "validation_patches": len(val_ds),
        "validation_group_held_out": held,
        "excluded_groups": cfg.exclude_groups,
        "best_validation_auc": best_auc,
        "platt": [model.config.platt_a, model.config.platt_b],
        "history": history,
        "seconds": round(time.perf_counter() - start, 1),
        "device": str(device),
        "precision": str(dtype).removeprefix("torch."),
        "recipe": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "groups": sorted({s.group for s in samples}),
    }
    del summary["recipe"]["progress"]
    model.config.training = summary
    model.save_pretrained(cfg.out)
    (Path(cfg.out) / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
