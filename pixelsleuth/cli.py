"""The `pixelsleuth` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from pixelsleuth import __version__

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
    max_pixels: Annotated[
        int | None, typer.Option(help="Refuse images with more pixels than this.")
    ] = None,
    c2pa_trust_anchors: Annotated[
        Path | None,
        typer.Option(help="PEM file of C2PA trust anchors (root certificates you trust)."),
    ] = None,
    maps: Annotated[
        Path | None,
        typer.Option(help="Write every heatmap as a PNG file into this folder."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show all evidence.")] = False,
    stability: Annotated[
        bool, typer.Option(help="Check the verdict on recompressed and rescaled copies.")
    ] = True,
) -> None:
    """Analyse images and print what each analyzer found.

    Exits with 1 when any file could not be analysed at all (missing, not an image, too large).
    """
    import os

    from pixelsleuth.analyze import analyze_file
    from pixelsleuth.analyzers import create_analyzers
    from pixelsleuth.imageio import Limits
    from pixelsleuth.render import render_text, write_heatmaps

    if c2pa_trust_anchors is not None:
        if not c2pa_trust_anchors.is_file():
            _fail(f"{c2pa_trust_anchors}: no such trust-anchor file")
        os.environ["PIXELSLEUTH_C2PA_TRUST_ANCHORS"] = str(c2pa_trust_anchors)
    limits = Limits.from_env()
    if max_pixels is not None:
        limits = Limits(max_pixels=max_pixels, max_file_bytes=limits.max_file_bytes)
    try:
        instances = create_analyzers(_analyzer_list(analyzers))
    except KeyError as exc:
        _fail(str(exc.args[0]))
    failed = 0
    for i, path in enumerate(paths):
        report = analyze_file(path, instances, limits, stability=stability)
        if report.error:
            failed += 1
            typer.echo(f"pixelsleuth: {path}: {report.error}", err=True)
        if maps is not None:
            try:
                write_heatmaps(report, maps)
            except OSError as exc:
                _fail(f"cannot write heatmaps to {maps}: {exc.strerror or exc}")
        if json_out:
            typer.echo(report.to_json(indent=2 if len(paths) == 1 else None))
        else:
            if i:
                typer.echo("")
            typer.echo(render_text(report, verbose=verbose))
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
        bool, typer.Option(help="Check each verdict on recompressed and rescaled copies.")
    ] = True,
    backend: Annotated[str, typer.Option(help="local or ray.")] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: RAY_ADDRESS, or local).")
    ] = None,
) -> None:
    """Audit every file under a folder; rows are streamed to --out as they finish."""
    from pixelsleuth.analyzers import create_analyzers
    from pixelsleuth.audit import audit as run
    from pixelsleuth.audit import extras_path, write_csv
    from pixelsleuth.htmlreport import write_html

    names = _analyzer_list(analyzers)
    try:
        create_analyzers(names)  # fail fast on an unknown name
        summary = run(
            folder,
            out,
            workers=max(1, workers),
            resume=resume,
            analyzers=names,
            stability=stability,
            extras=html is not None,
            backend=backend,
            ray_address=ray_address,
        )
    except KeyError as exc:
        _fail(str(exc.args[0]))
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as exc:
        _fail(str(exc))
    if csv is not None:
        write_csv(out, csv)
    if html is not None:
        write_html(out, html, extras_path(out))
    typer.echo(
        f"{summary.written} rows written ({summary.skipped} already done, "
        f"{summary.errors} with errors) → {out}"
    )


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
    from pixelsleuth.datasets.generate import GenerationConfig
    from pixelsleuth.datasets.generate import generate as run
    from pixelsleuth.datasets.pipelines import GenerationError

    config = GenerationConfig(
        out=out,
        mode=mode,
        model=model,
        autoencoder=autoencoder,
        images=images,
        images_split=images_split,
        count=count,
        prompts_file=prompts,
        steps=steps,
        guidance=guidance,
        strength=strength,
        aligned_strength=aligned_strength,
        seed=seed,
        batch_size=batch_size,
        width=width,
        height=height,
        max_side=max_side,
        format=format,
        quality=quality,
        provenance=provenance,
        holdout_split=holdout_split,
        device=device,
        dtype=dtype,
        lora=lora,
        scheduler=scheduler,
        single_file_config=config,
    )
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
) -> None:
    """Fit the per-analyzer calibration table and the verdict model on one split (real photos
    in six ordinary conditions, AI and manipulated images as-is and stripped); measure both on
    another. Findings are cached in OUT/records.jsonl, so a rerun only refits."""
    from pixelsleuth.detectors.data import CORPUS_SPLITS
    from pixelsleuth.verdict.fit import fit_verdict

    if fit_split not in CORPUS_SPLITS or eval_split not in CORPUS_SPLITS or fit_split == eval_split:
        _fail(f"--fit-split and --eval-split must be two different of {', '.join(CORPUS_SPLITS)}")
    for manifest in manifests:
        if not manifest.is_file():
            _fail(f"{manifest}: no such manifest")
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
        )
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    for name, row in evaluation["confusion"]["summary"].items():
        rates = ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k != "n")
        typer.echo(f"{name}: n={row['n']}, {rates}")
    cal = evaluation["calibration"]["ai_generated"]
    typer.echo(f"P(AI) where the model decides: ECE {cal['ece']:.3f}, Brier {cal['brier']:.3f}")
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


@app.command("app")
def run_app(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
    address: Annotated[
        str, typer.Option(help="Address to bind (0.0.0.0 to serve others: mind who can reach it).")
    ] = "127.0.0.1",
    max_upload_mb: Annotated[int, typer.Option(help="Largest upload accepted, in MB.")] = 200,
) -> None:
    """Start the Streamlit app (Inspect, Audit, Generate) and print its address."""
    import os

    from pixelsleuth.app import MAIN_SCRIPT

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
    os.environ.setdefault("PIXELSLEUTH_MAX_FILE_BYTES", str(max_upload_mb * 2**20))
    typer.echo(f"pixelsleuth app on http://{address}:{port}", err=True)
    os.execv(sys.executable, args)


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
