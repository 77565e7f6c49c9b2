"""The `pixelsleuth` command line."""

from __future__ import annotations

import logging
import sys
import typing
from pathlib import Path
from typing import Annotated

import typer
import typer.core

from pixelsleuth import __version__


def _help_type(param: typer.core._TyperParameter, ctx: object) -> str | None:
    """The value a parameter takes, in words for ``--help`` (PATH, INTEGER, NUMBER, TEXT) rather
    than typer's Python names (``<list[Path]>``, ``<str>``); nothing for on/off flags."""
    desc = param.type_descriptor
    annotation = desc.annotation
    if desc.is_list and typing.get_args(annotation):
        annotation = typing.get_args(annotation)[0]
    if desc.is_choice:
        return "|".join(str(c) for c in desc.choices or ())
    if desc.is_path:
        return "PATH"
    if annotation is bool:
        return None
    words = {int: "INTEGER", float: "NUMBER", str: "TEXT"}
    return words.get(annotation, getattr(annotation, "__name__", "VALUE").upper())


def _usage_name(param: typer.core.TyperArgument) -> str:
    """An argument on the usage line as commands usually write it: ``PATHS...``, ``[OUT]``
    (typer writes ``{paths}...``)."""
    name = param.display_name_raw.upper()
    name = name if param.required else f"[{name}]"
    return name + ("..." if param.nargs != 1 else "")


# typer 0.2x prints Python type names in --help; one place puts them in words for every command
if hasattr(typer.core, "_TyperParameter"):
    typer.core._TyperParameter.display_type = _help_type  # type: ignore[method-assign]
if hasattr(typer.core.TyperArgument, "_usage_display_name"):
    typer.core.TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]

app = typer.Typer(
    name="pixelsleuth",
    help="Is this image a camera original, an edited photograph, or AI-generated? "
    "pixelsleuth shows the evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pixelsleuth {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--debug", help="Log internal details.")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)


PROFILE_HELP = (
    "full: every default analyzer (the default); triage: metadata, generator metadata, "
    "provenance, JPEG tables and the detector, for a first pass over large folders."
)


BUDGET_HELP = (
    "Memory one image's analysis may take, in MB; a larger image is analysed on a reduced "
    "copy that fits, or only its metadata read if even that would not (default: a quarter "
    "of the machine's memory, 1.5–3 GiB)."
)


# The limits and trust settings every command that reads images offers (see
# pixelsleuth.settings: each defaults to its environment variable, then to the built-in value).
MaxPixels = Annotated[
    int | None,
    typer.Option(help="Refuse images with more pixels than this (default 150 MP)."),
]
MaxFileMb = Annotated[
    int | None, typer.Option(help="Refuse files larger than this, in MB (default 512).")
]
MemoryBudgetMb = Annotated[int | None, typer.Option(help=BUDGET_HELP)]
TrustAnchors = Annotated[
    Path | None,
    typer.Option(help="PEM file of C2PA trust anchors (root certificates you trust)."),
]


def _settings(
    max_pixels: int | None = None,
    max_file_mb: int | None = None,
    memory_budget_mb: int | None = None,
    c2pa_trust_anchors: Path | None = None,
):
    """The environment's settings with this command's options applied (a clear message and
    exit 2 for a value that cannot be used)."""
    from pixelsleuth.settings import Settings

    try:
        return Settings.from_env().with_options(
            max_pixels=max_pixels,
            max_file_bytes=None if max_file_mb is None else max_file_mb * 2**20,
            memory_budget_mb=memory_budget_mb,
            c2pa_trust_anchors=c2pa_trust_anchors,
        )
    except ValueError as exc:
        _fail(str(exc))


def _check_names(names: list[str] | None) -> None:
    """KeyError for an analyzer name that is neither built in nor a plugin's."""
    from pixelsleuth.analyzers import BUILTIN, available_analyzers

    if names and any(n not in BUILTIN for n in names):
        unknown = [n for n in names if n not in available_analyzers()]
        if unknown:
            raise KeyError(
                f"unknown analyzer(s): {', '.join(unknown)}; "
                f"available: {', '.join(available_analyzers())}"
            )


def _analyzer_list(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


@app.command()
def analyze(
    paths: Annotated[list[Path], typer.Argument(help="Image files to analyse.")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print Report JSON (one object per line for several).")
    ] = False,
    analyzers: Annotated[
        str | None,
        typer.Option(help="Comma-separated analyzers to run (default: all default ones)."),
    ] = None,
    max_pixels: MaxPixels = None,
    max_file_mb: MaxFileMb = None,
    c2pa_trust_anchors: TrustAnchors = None,
    maps: Annotated[
        Path | None,
        typer.Option(help="Write every heatmap as a PNG file into this folder."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show all evidence.")] = False,
    stability: Annotated[
        bool | None,
        typer.Option(
            help="Check the verdict on recompressed and rescaled copies (default: the "
            "profile's; on in full, off in triage)."
        ),
    ] = None,
    profile: Annotated[str, typer.Option(help=PROFILE_HELP)] = "full",
    memory_budget_mb: MemoryBudgetMb = None,
) -> None:
    """Analyse images and print what each analyzer found.

    Exits with 1 when any file could not be analysed at all (missing, not an image, too large).
    """
    from pixelsleuth.analyze import analyze_file
    from pixelsleuth.analyzers import create_analyzers, get_profile
    from pixelsleuth.messages import in_words
    from pixelsleuth.render import render_text, write_heatmaps

    settings = _settings(max_pixels, max_file_mb, memory_budget_mb, c2pa_trust_anchors)
    try:
        instances = create_analyzers(_analyzer_list(analyzers), profile, settings)
        stability = get_profile(profile).stability if stability is None else stability
    except KeyError as exc:
        _fail(str(exc.args[0]))
    failed = 0
    maps_written = 0
    for i, path in enumerate(paths):
        report = analyze_file(path, instances, stability=stability, settings=settings)
        if report.error:
            failed += 1
            typer.echo(f"pixelsleuth: {path}: {in_words(report.error)}", err=True)
        if maps is not None:
            try:
                maps_written += len(write_heatmaps(report, maps))
            except OSError as exc:
                _fail(f"cannot write heatmaps to {maps}: {exc.strerror or exc}")
        if json_out:
            typer.echo(report.to_json(indent=2 if len(paths) == 1 else None))
        else:
            if i:
                typer.echo("")
            typer.echo(render_text(report, verbose=verbose))
    if maps is not None:  # on stderr, so that --json output stays pure JSON
        where = maps.resolve()
        typer.echo(
            f"pixelsleuth: {maps_written} heatmap(s) written to {where}"
            if maps_written
            else f"pixelsleuth: no heatmaps to write (the analyzers run made none); {where} "
            "is unchanged",
            err=True,
        )
    if failed:
        raise typer.Exit(code=1)


@app.command()
def audit(
    folder: Annotated[Path, typer.Argument(help="A folder (searched recursively) or a file.")],
    out: Annotated[Path, typer.Option("--out", help="JSONL results, one row per file.")],
    csv: Annotated[Path | None, typer.Option("--csv", help="Also write a CSV.")] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (or Ray CPUs).")] = 1,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted audit.")] = False,
    analyzers: Annotated[
        str | None, typer.Option(help="Comma-separated analyzers (default: all).")
    ] = None,
    stability: Annotated[
        bool | None,
        typer.Option(
            help="Check each verdict on recompressed and rescaled copies (default: the "
            "profile's; on in full, off in triage)."
        ),
    ] = None,
    profile: Annotated[str, typer.Option(help=PROFILE_HELP)] = "full",
    max_pixels: MaxPixels = None,
    max_file_mb: MaxFileMb = None,
    memory_budget_mb: MemoryBudgetMb = None,
    c2pa_trust_anchors: TrustAnchors = None,
    backend: Annotated[str, typer.Option(help="local or ray.")] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: RAY_ADDRESS, or local).")
    ] = None,
) -> None:
    """Audit every file under a folder; rows are streamed to --out as they finish."""
    from pixelsleuth.analyzers import get_profile
    from pixelsleuth.audit import audit as run
    from pixelsleuth.audit_results import write_csv
    from pixelsleuth.htmlreport import write_html

    settings = _settings(max_pixels, max_file_mb, memory_budget_mb, c2pa_trust_anchors)
    names = _analyzer_list(analyzers)
    try:
        # fail fast on an unknown name, without importing the analyzers' libraries here
        stability = get_profile(profile).stability if stability is None else stability
        _check_names(names)
        summary = run(
            folder,
            out,
            workers=max(1, workers),
            resume=resume,
            analyzers=names,
            stability=stability,
            profile=profile,
            extras=html is not None,
            backend=backend,
            ray_address=ray_address,
            settings=settings,
        )
    except KeyError as exc:
        _fail(str(exc.args[0]))
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as exc:
        _fail(str(exc))
    if csv is not None:
        write_csv(out, csv)
    if html is not None:
        write_html(out, html)
    typer.echo(
        f"{summary.written} rows written ({summary.skipped} already done, "
        f"{summary.errors} with errors) → {out}"
    )


# Over 80 lines: typer declares each option as a parameter (GenerationConfig's fields).
@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="The dataset folder (imagefolder layout).")],
    model: Annotated[
        str | None,
        typer.Option(help="Pipeline: a diffusers folder, a .safetensors/.ckpt file or a hub id."),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="text-to-image, image-to-image or aligned.")
    ] = "text-to-image",
    autoencoder: Annotated[
        str | None,
        typer.Option(help="aligned: a tiny autoencoder (e.g. taef2) or VAE folder."),
    ] = None,
    images: Annotated[
        Path | None,
        typer.Option(help="Real photos (image-to-image, aligned): a folder or a manifest.csv."),
    ] = None,
    images_split: Annotated[
        str | None,
        typer.Option(help="With a manifest: only photos of this corpus split (train, ...)."),
    ] = None,
    count: Annotated[int, typer.Option(help="Images to make (or photos to use; 0 = all).")] = 8,
    prompts: Annotated[
        Path | None, typer.Option(help="Prompt file, one per line (default: built-in sampler).")
    ] = None,
    steps: Annotated[int, typer.Option(help="Denoising steps.")] = 25,
    guidance: Annotated[float, typer.Option(help="Classifier-free guidance scale.")] = 7.5,
    strength: Annotated[float, typer.Option(help="image-to-image strength.")] = 0.5,
    aligned_strength: Annotated[
        float, typer.Option(help="aligned: add an image-to-image pass at this strength.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="First seed; image i uses seed + i.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Images per pipeline call.")] = 1,
    width: Annotated[int | None, typer.Option(help="Output width (text-to-image).")] = None,
    height: Annotated[int | None, typer.Option(help="Output height (text-to-image).")] = None,
    max_side: Annotated[
        int | None, typer.Option(help="Shrink input photos to this long side.")
    ] = None,
    format: Annotated[str, typer.Option(help="png, jpeg or webp.")] = "png",
    quality: Annotated[int, typer.Option(help="JPEG/WebP quality.")] = 95,
    provenance: Annotated[
        bool,
        typer.Option(help="Embed provenance metadata (turn off for training sets)."),
    ] = True,
    holdout_split: Annotated[
        str | None, typer.Option(help="Put everything from this generator into one split.")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cuda, mps or cpu (default: best).")] = None,
    dtype: Annotated[
        str | None, typer.Option(help="float32, float16 or bfloat16 (default: by device).")
    ] = None,
    lora: Annotated[str | None, typer.Option(help="A LoRA to load (e.g. LCM-LoRA).")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="'lcm' to use LCMScheduler (for LCM-LoRA).")
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(help="Single-file checkpoints: a diffusers folder or hub id for configs."),
    ] = None,
) -> None:
    """Generate labelled fake images into an imagefolder dataset (resumable)."""
    # the options are GenerationConfig's fields by name; two are renamed for the command line
    options = dict(locals(), prompts_file=prompts, single_file_config=config)
    del options["prompts"], options["config"]
    from pixelsleuth.datasets.generate import GenerationConfig
    from pixelsleuth.datasets.generate import generate as run
    from pixelsleuth.datasets.pipelines import GenerationError

    config = GenerationConfig(**options)
    try:
        summary = run(config)
    except (GenerationError, ValueError) as exc:
        _fail(str(exc))
    for path, reason in summary.rejected:
        typer.echo(f"pixelsleuth: {path}: skipped ({reason})", err=True)
    line = f"wrote {summary.written} images ({summary.skipped} already there)"
    if summary.real_written:
        line += f" and {summary.real_written} real twins"
    if summary.psnr:
        line += f"; round-trip PSNR mean {sum(summary.psnr) / len(summary.psnr):.2f} dB"
    typer.echo(f"{line}; {summary.seconds:.1f} s → {out}")


@app.command()
def train(
    data: Annotated[list[str], typer.Argument(help="imagefolder datasets or manifest.csv files.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for weights, config and card.")],
    exclude_group: Annotated[
        list[str] | None, typer.Option(help="Leave a group out (e.g. ai/comfyui).")
    ] = None,
    epochs: Annotated[int, typer.Option(help="Maximum epochs (early stopping).")] = 10,
    batch_size: Annotated[int, typer.Option(help="Crops per step.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-3,
    patches_per_image: Annotated[int, typer.Option(help="Native patches per image.")] = 4,
    max_images_per_group: Annotated[
        int | None, typer.Option(help="Cap images per group (quick runs).")
    ] = None,
    backbone: Annotated[str, typer.Option(help="timm ResNet name.")] = "resnet34",
    stages: Annotated[int, typer.Option(help="ResNet stages kept (the rest is cut).")] = 2,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    split: Annotated[
        str | None,
        typer.Option(help="Only this corpus split of manifests: train, calibration or test."),
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto (a CUDA GPU when present, else the CPU), cpu, cuda, cuda:1…")
    ] = "auto",
    precision: Annotated[
        str,
        typer.Option(
            help="auto (bfloat16 where the CPU or GPU computes it natively), float32, bfloat16."
        ),
    ] = "auto",
) -> None:
    """Train the residual CNN detector; saves safetensors weights, config and training log."""
    from pixelsleuth.detectors.train import TrainConfig
    from pixelsleuth.detectors.train import train as run

    try:
        summary = run(
            TrainConfig(
                data=data,
                out=out,
                exclude_groups=exclude_group or [],
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                patches_per_image=patches_per_image,
                max_images_per_group=max_images_per_group,
                backbone=backbone,
                stages=stages,
                seed=seed,
                split=split,
                device=device,
                precision=precision,
            )
        )
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(
        f"best validation AUC {summary['best_validation_auc']:.4f} "
        f"(held out: {summary['validation_group_held_out']}); "
        f"{summary['seconds']:.0f} s on {summary['device']} in {summary['precision']} → {out}"
    )


# Over 80 lines: typer declares each option as a parameter; the body is one call and a print.
@app.command("fit-verdict")
def fit_verdict_cmd(
    manifests: Annotated[
        list[Path], typer.Argument(help="Corpus manifest.csv files (path, label, group).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for verdict.json, calibration.json, evaluation.")
    ],
    fit_split: Annotated[str, typer.Option(help="Split to fit on.")] = "calibration",
    eval_split: Annotated[str, typer.Option(help="Split to measure on.")] = "test",
    max_per_group: Annotated[int, typer.Option(help="AI/forged images per group at most.")] = 12,
    splices: Annotated[int, typer.Option(help="Splices to make per split.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    max_real_per_group: Annotated[int, typer.Option(help="Real photos per group at most.")] = 12,
    stability: Annotated[
        bool, typer.Option(help="Also score the stability copies (slower; part of the verdict).")
    ] = True,
    cached_only: Annotated[
        bool,
        typer.Option(help="Refit on exactly the views cached in OUT/records.jsonl; no analysis."),
    ] = False,
    heldout_real: Annotated[
        Path | None,
        typer.Option(
            help="Also measure on the real photos of this manifest's --heldout-split, photos "
            "neither the detector nor the verdict saw (e.g. the detector pool's manifest)."
        ),
    ] = None,
    heldout_split: Annotated[str, typer.Option(help="Split of --heldout-real.")] = "train",
    keep_model: Annotated[
        Path | None,
        typer.Option(
            help="Refit only the calibration table (on the fit split's real photos) and "
            "measure with this verdict.json as it is."
        ),
    ] = None,
    eval_max_real_per_group: Annotated[
        int | None,
        typer.Option(help="Real photos per group to measure on (default: --max-real-per-group)."),
    ] = None,
) -> None:
    """Fit the per-analyzer calibration table and the verdict model on one split (real photos
    in six ordinary conditions, AI and manipulated images as-is and stripped); measure both on
    another. Findings are cached in OUT/records.jsonl, so a rerun only refits."""
    from pixelsleuth.detectors.data import CORPUS_SPLITS
    from pixelsleuth.verdict.fit import fit_verdict

    if fit_split not in CORPUS_SPLITS or eval_split not in CORPUS_SPLITS or fit_split == eval_split:
        _fail(f"--fit-split and --eval-split must be two different of {', '.join(CORPUS_SPLITS)}")
    if heldout_real is not None and heldout_split in (fit_split, eval_split):
        _fail("--heldout-split must be a split that is neither fitted nor measured on")
    for manifest in [*manifests, *(m for m in (heldout_real, keep_model) if m)]:
        if not manifest.is_file():
            _fail(f"{manifest}: no such file")
    try:
        evaluation = fit_verdict(
            manifests,
            out,
            fit_split,
            eval_split,
            max_per_group,
            splices,
            seed,
            max_real_per_group=max_real_per_group,
            stability=stability,
            cached_only=cached_only,
            heldout_real=(heldout_real, heldout_split) if heldout_real else None,
            keep_model=keep_model,
            eval_max_real_per_group=eval_max_real_per_group,
        )
    except (OSError, ValueError) as exc:
        _fail(str(exc))

    def echo_summary(measured: dict, prefix: str = "") -> None:
        for name, row in measured["confusion"]["summary"].items():
            rates = ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k != "n")
            typer.echo(f"{prefix}{name}: n={row['n']}, {rates}")

    echo_summary(evaluation)
    cal = evaluation["calibration"]["ai_generated"]
    typer.echo(f"P(AI) where the model decides: ECE {cal['ece']:.3f}, Brier {cal['brier']:.3f}")
    if "heldout_real" in evaluation:
        echo_summary(evaluation["heldout_real"], "held-out ")
    typer.echo(
        f"→ {out / 'verdict.json'}, {out / 'calibration.json'}, {out / 'verdict-eval.json'} "
        f"({evaluation['seconds']:.0f} s)"
    )


@app.command("eval")
def evaluate_cmd(
    data: Annotated[list[str], typer.Argument(help="imagefolder datasets or manifest.csv files.")],
    weights: Annotated[Path, typer.Option(help="A trained detector folder.")],
    out: Annotated[Path, typer.Option(help="Report path (writes .json and .md).")] = Path(
        "eval-report"
    ),
    group: Annotated[
        list[str] | None, typer.Option(help="Only these groups (real groups always kept).")
    ] = None,
    condition: Annotated[
        list[str] | None, typer.Option(help="Only these conditions (default: all).")
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Only this corpus split of manifests (e.g. test).")
    ] = None,
    baseline: Annotated[
        list[str] | None,
        typer.Option(
            help="Also fit the spectral baseline on these datasets (their 'train' split) "
            "and evaluate it the same way."
        ),
    ] = None,
) -> None:
    """Evaluate a detector: AUC, AP, balanced accuracy, FPR on real, per group, under JPEG
    and rescaling, with bootstrap confidence intervals."""
    from pixelsleuth.detectors.data import load_samples
    from pixelsleuth.detectors.evaluate import (
        CONDITIONS,
        evaluate,
        fit_baseline,
        with_min_side,
        write_reports,
    )
    from pixelsleuth.detectors.model import ResidualDetector

    try:
        model = ResidualDetector.from_pretrained(weights)
        samples = [s for src in data for s in load_samples(src, split)]
        base_samples = [s for src in baseline or [] for s in load_samples(src, "train")]
    except (FileNotFoundError, ValueError, OSError) as exc:
        _fail(str(exc))
    if group:
        samples = [s for s in samples if s.group in group or s.label == 0]
    unknown = [c for c in condition or [] if c not in CONDITIONS]
    if unknown:
        _fail(f"unknown condition(s) {unknown}; use {', '.join(CONDITIONS)}")
    report = evaluate(
        model.probability, samples, model.config.threshold, condition or tuple(CONDITIONS)
    )
    write_reports(report, out, f"Detector {weights}")
    overall = report["conditions"][next(iter(report["conditions"]))]["overall"]
    typer.echo(
        f"AUC {overall.get('auc', float('nan')):.4f}, FPR on real "
        f"{overall.get('fpr_real', float('nan')):.3f}, not scored {overall['abstained']} "
        f"(under {model.min_side} px) → {out.with_suffix('.md')}"
    )
    if base_samples:
        base = fit_baseline(base_samples)
        base_report = evaluate(  # on the images the detector judged
            with_min_side(base.score, model.min_side),
            samples,
            0.5,
            condition or tuple(CONDITIONS),
        )
        base_out = out.with_name(out.name + "-baseline")
        write_reports(base_report, base_out, "Spectral baseline")
        overall = base_report["conditions"][next(iter(base_report["conditions"]))]["overall"]
        typer.echo(
            f"baseline AUC {overall.get('auc', float('nan')):.4f} → {base_out.with_suffix('.md')}"
        )


RECIPES = {
    # today's residual CNN, trained from scratch
    "residual": {},
    # EfficientNet-Lite0 from ImageNet (pretrained.convert_lite0), cut after its 4th level,
    # fine-tuned end to end on the image itself; crops end as JPEG or WebP alike
    "lite0": {
        "backbone": "tf_efficientnet_lite0",
        "stages": 3,
        "residual": "none",
        "norm": (0.5, 0.5),
        "lr": 1e-3,
        "webp": 0.7,
        "jpeg": 0.5,
    },
}


@app.command("eval-lofo")
def eval_lofo(
    data: Annotated[list[str], typer.Argument(help="Pools, imagefolder datasets, manifests.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for fold weights and reports.")],
    recipe: Annotated[str, typer.Option(help="residual or lite0 (see cli.RECIPES).")] = "lite0",
    init: Annotated[
        Path | None,
        typer.Option(help="Pretrained backbone safetensors (lite0: written here if missing)."),
    ] = None,
    reference: Annotated[
        Path | None, typer.Option(help="Weights to compare with (default: the shipped ones).")
    ] = None,
    family: Annotated[
        list[str] | None, typer.Option(help="Hold out only this family (repeatable).")
    ] = None,
    by: Annotated[
        str, typer.Option(help="Hold out a whole family (FLUX.1, SDXL, ...) or one group.")
    ] = "family",
    min_family: Annotated[int, typer.Option(help="Families with fewer images are kept.")] = 50,
    epochs: Annotated[int, typer.Option(help="Maximum epochs per fold.")] = 6,
    max_images_per_group: Annotated[int | None, typer.Option(help="Training cap.")] = 150,
    patches_per_image: Annotated[int, typer.Option(help="Native patches per image.")] = 2,
    max_eval_ai: Annotated[int, typer.Option(help="Held-out images measured per fold.")] = 150,
    max_eval_real: Annotated[int, typer.Option(help="Test-split photos measured.")] = 300,
    reference_only: Annotated[
        bool, typer.Option(help="Measure the reference on every fold's images; train nothing.")
    ] = False,
) -> None:
    """Leave-one-generator-family-out: per family, train without it and measure on it against
    unseen real photos, beside the reference detector on the same images."""
    from pixelsleuth.detectors.lofo import LofoConfig, run_lofo

    if recipe not in RECIPES:
        _fail(f"unknown recipe {recipe!r}; use one of {', '.join(RECIPES)}")
    overrides = dict(RECIPES[recipe])
    overrides |= {
        "epochs": epochs,
        "max_images_per_group": max_images_per_group,
        "patches_per_image": patches_per_image,
    }
    if recipe == "lite0" and not reference_only:
        from pixelsleuth.detectors.pretrained import convert_lite0

        init = init or out / "lite0-imagenet.safetensors"
        if not init.is_file():
            try:
                convert_lite0(init)
            except (FileNotFoundError, ValueError) as exc:
                _fail(str(exc))
        overrides["init"] = str(init)
    report = run_lofo(
        LofoConfig(
            data=data,
            out=out,
            reference=str(reference) if reference else None,
            min_family=min_family,
            max_eval_ai=max_eval_ai,
            max_eval_real=max_eval_real,
            only_families=family or [],
            by=by,
            train_overrides=overrides,
            train_folds=not reference_only,
        )
    )
    for fam, fold in report["folds"].items():
        r = fold["views"]["jpeg90"]
        typer.echo(
            f"{fam}: AUC {r.get('new', {}).get('auc', float('nan')):.3f} "
            f"(reference {r['reference'].get('auc', float('nan')):.3f})"
        )
    typer.echo(f"→ {out}/lofo.json, {out}/lofo.md")


@app.command("eval-curve")
def eval_curve(
    data: Annotated[list[str], typer.Argument(help="Training data: manifests, imagefolders.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for models and reports.")],
    evaluate_on: Annotated[
        list[str] | None,
        typer.Option(
            "--evaluate-on",
            help="Manifests whose test and calibration splits are measured (default: the "
            "manifests among DATA).",
        ),
    ] = None,
    cap: Annotated[
        list[int] | None, typer.Option(help="Images per group (repeatable; default 10 20 40 80).")
    ] = None,
    recipe: Annotated[str, typer.Option(help="residual or lite0 (see cli.RECIPES).")] = "residual",
    epochs: Annotated[int, typer.Option(help="Maximum epochs per model.")] = 10,
    backbone: Annotated[
        str | None, typer.Option(help="timm backbone (default: the recipe's).")
    ] = None,
) -> None:
    """Learning curve: train with 10, 20, 40, 80 images per group and measure each model on
    the test and calibration splits (never trained on), pooled, with bootstrap intervals."""
    from pixelsleuth.detectors.curve import CAPS, CurveConfig, run_curve

    if recipe not in RECIPES:
        _fail(f"unknown recipe {recipe!r}; use one of {', '.join(RECIPES)}")
    overrides = dict(RECIPES[recipe]) | {"epochs": epochs}
    if backbone:
        overrides["backbone"] = backbone
    evaluation = evaluate_on or [d for d in data if d.endswith(".csv")]
    if not evaluation:
        _fail("no manifest to evaluate on: pass --evaluate-on MANIFEST")
    try:
        rows = run_curve(
            CurveConfig(
                data=data,
                evaluation=evaluation,
                work=out,
                caps=tuple(cap or CAPS),
                train_overrides=overrides,
            )
        )
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    for row in rows:
        q90 = row["jpeg90"]
        typer.echo(
            f"cap {row['cap']}: {row['train_images']} training images, AUC {q90['auc']:.3f}, "
            f"false alarms {q90['false_alarms']}/{q90['n_real']}"
        )
    typer.echo(f"→ {out}/curve.json, {out}/curve.md")


datasets_app = typer.Typer(help="Build and inspect datasets.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("add-real")
def add_real(
    folder: Annotated[Path, typer.Argument(help="A folder of real photos (read only).")],
    out: Annotated[Path, typer.Option("--out", help="The dataset folder.")],
    format: Annotated[
        str, typer.Option(help="keep (copy bytes) or png/jpeg/webp to re-encode.")
    ] = "keep",
    quality: Annotated[int, typer.Option(help="JPEG/WebP quality when re-encoding.")] = 95,
    max_side: Annotated[int | None, typer.Option(help="Shrink when re-encoding.")] = None,
) -> None:
    """Add real photos to a dataset with label "real"; the originals are never modified."""
    from pixelsleuth.datasets.real import add_real as run

    try:
        summary = run(folder, out, format=format, quality=quality, max_side=max_side)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    for path, reason in summary.rejected:
        typer.echo(f"pixelsleuth: {path}: skipped ({reason})", err=True)
    typer.echo(
        f"added {summary.added} real images ({summary.skipped} already there, "
        f"{len(summary.rejected)} unreadable) → {out}"
    )


@datasets_app.command("build-pool")
def build_pool(
    sources: Annotated[
        Path, typer.Option(help="training-sources.csv: what may be used, commits, licences.")
    ] = Path("../shared/data/training-sources.csv"),
    snapshots: Annotated[
        Path,
        typer.Option(
            help="Folder of git snapshots/clones (owner+name/repo, name/.git) and of "
            "extracted Debian packages (debian/PACKAGE)."
        ),
    ] = Path("snapshots"),
    out: Annotated[Path, typer.Option(help="The pool folder (outside the repository).")] = Path(
        "pool"
    ),
    corpus: Annotated[
        Path | None, typer.Option(help="A corpus manifest.csv whose duplicates are dropped.")
    ] = None,
    photos: Annotated[
        list[Path] | None, typer.Option(help="A folder of your own real photos (repeatable).")
    ] = None,
    cap: Annotated[int | None, typer.Option(help="Images per source (overrides each cap).")] = None,
    only: Annotated[
        list[str] | None, typer.Option(help="Build only this source (repeatable).")
    ] = None,
) -> None:
    """Build the detector's training pool from local copies of the listed sources: deduplicated
    against the corpus and across sources, capped per source, with a data card."""
    from pixelsleuth.datasets.pool import build_pool as run

    if not sources.is_file():
        _fail(f"no sources list at {sources}")
    if not snapshots.is_dir():
        _fail(f"no snapshots folder at {snapshots}")
    if corpus is not None and not corpus.is_file():
        _fail(f"no corpus manifest at {corpus}")
    report = run(
        sources,
        snapshots,
        out,
        corpus_manifest=corpus,
        photo_folders=tuple(photos or ()),
        cap=cap,
        only=tuple(only or ()),
        progress=lambda line: typer.echo(line, err=True),
    )
    typer.echo(
        f"kept {sum(report.kept.values())} images from {len(report.kept)} sources "
        f"({sum(report.duplicates.values())} duplicates dropped) → {out}/manifest.csv, "
        f"{out}/DATA_CARD.md"
    )


@app.command("app")
def run_app(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
    address: Annotated[
        str, typer.Option(help="Address to bind (0.0.0.0 to serve others: mind who can reach it).")
    ] = "127.0.0.1",
    max_upload_mb: Annotated[int, typer.Option(help="Largest upload accepted, in MB.")] = 200,
    online_map: Annotated[
        bool,
        typer.Option(
            "--online-map",
            help="Show GPS positions on a street map fetched from a third-party tile server "
            "(the browser then sends the photo's location there). Off: an offline sketch.",
        ),
    ] = False,
    max_pixels: MaxPixels = None,
    memory_budget_mb: MemoryBudgetMb = None,
    c2pa_trust_anchors: TrustAnchors = None,
) -> None:
    """Start the Streamlit app (Inspect, Audit, Generate) and print its address."""
    import dataclasses
    import os

    from pixelsleuth.app import MAIN_SCRIPT

    settings = _settings(max_pixels, max_upload_mb, memory_budget_mb, c2pa_trust_anchors)
    # only an explicit flag lets the browser fetch map tiles
    settings = dataclasses.replace(settings, online_map=online_map)

    args = [
        sys.executable, "-m", "streamlit", "run", str(MAIN_SCRIPT),
        "--server.port", str(port),
        "--server.address", address,
        "--server.headless", "true",
        "--server.maxUploadSize", str(max_upload_mb),
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    os.environ.update(settings.environ())  # Streamlit's process reads them back (Settings)
    typer.echo(f"pixelsleuth app on http://{address}:{port}", err=True)
    os.execv(sys.executable, args)


@app.command("metadata")
def metadata_dump(
    paths: Annotated[list[Path], typer.Argument(help="Image files to read.")],
    json_out: Annotated[
        bool,
        typer.Option("--json", help='JSON like `exiftool -j -G1 -n`: {"Group:Name": value}.'),
    ] = False,
    max_file_mb: MaxFileMb = None,
) -> None:
    """Every EXIF, GPS, XMP and IPTC tag, by group and name (like `exiftool -G1`), and the
    XMP edit history. Reads the metadata only; never decodes pixels or changes the file."""
    import json

    from pixelsleuth.imageio import ImageInputError, load_image
    from pixelsleuth.messages import in_words
    from pixelsleuth.metadump import dump_metadata

    limits = _settings(max_file_mb=max_file_mb).limits  # pixels are never decoded here
    failed = 0
    for i, path in enumerate(paths):
        try:
            data = load_image(path, limits).data  # read-only; pixels not decoded
        except ImageInputError as exc:
            failed += 1
            typer.echo(f"pixelsleuth: {path}: {in_words(exc)}", err=True)
            continue
        found = dump_metadata(data)
        if json_out:
            record = {"SourceFile": str(path), **found.to_dict()}
            if found.history:
                record["History"] = [h.__dict__ for h in found.history]
            typer.echo(json.dumps(record, ensure_ascii=False, default=str))
            continue
        if i:
            typer.echo("")
        typer.echo(f"{path}")
        typer.echo(found.table() if found.tags else "  (no EXIF, GPS, XMP or IPTC metadata)")
        for warning in found.warnings[:5]:
            typer.echo(f"  note: {warning}")
    if failed:
        raise typer.Exit(code=1)


@app.command("analyzers")
def list_analyzers() -> None:
    """List the available analyzers and what each one tells you."""
    from pixelsleuth.analyzers import available_analyzers

    for name, cls in available_analyzers().items():
        mark = "" if cls.default else " (not run by default)"
        typer.echo(f"{name}{mark}\n    {cls.explains}")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"pixelsleuth: error: {message}", err=True)
    raise typer.Exit(code=code)


def main() -> None:
    """Console-script entry point: never shows a traceback for an unexpected error."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("pixelsleuth: interrupted\n")
        sys.exit(130)
    except Exception as exc:  # pragma: no cover - last line of defence
        sys.stderr.write(f"pixelsleuth: internal error: {type(exc).__name__}: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
