"""Run analyzers over a file and collect one :class:`Report`.

This is the one entry point that the CLI, the batch audit and the app share.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from pixelsleuth import __version__
from pixelsleuth.analyzers import Analyzer, create_analyzers
from pixelsleuth.imageio import (
    DamagedImageError,
    ImageInputError,
    Limits,
    LoadedImage,
    load_bytes,
    load_image,
)
from pixelsleuth.report import FileInfo, Finding, Report, Verdict
from pixelsleuth.settings import Settings

if TYPE_CHECKING:
    from pixelsleuth.verdict import CalibrationTable, Coverage, VerdictModel

log = logging.getLogger(__name__)


def analyze_file(
    path: str | os.PathLike[str],
    analyzers: Sequence[str] | Sequence[Analyzer] | None = None,
    limits: Limits | None = None,
    verdict: bool = True,
    stability: bool = True,
    settings: Settings | None = None,
) -> Report:
    """Analyse one file under ``settings`` (default: the environment's; ``limits``, when
    given, replace theirs). Never raises for bad input: problems are recorded in the Report."""
    settings = settings or Settings.from_env()
    try:
        image = load_image(path, limits or settings.limits)
    except ImageInputError as exc:
        return _unreadable(str(path), exc, verdict, stability, settings)
    return analyze_image(image, analyzers, verdict, stability, settings)


def analyze_bytes(
    data: bytes,
    name: str,
    analyzers: Sequence[str] | Sequence[Analyzer] | None = None,
    limits: Limits | None = None,
    verdict: bool = True,
    stability: bool = True,
    settings: Settings | None = None,
) -> Report:
    """Analyse bytes already in memory (an upload); ``name`` is shown as the path."""
    settings = settings or Settings.from_env()
    try:
        image = load_bytes(data, name, limits or settings.limits)
    except ImageInputError as exc:
        return _unreadable(name, exc, verdict, stability, settings)
    return analyze_image(image, analyzers, verdict, stability, settings)


def _unreadable(
    path: str, exc: ImageInputError, verdict: bool, stability: bool, settings: Settings
) -> Report:
    """The Report of a file that could not be loaded at all: why, and its verdict."""
    report = Report(file=FileInfo(path=path), error=str(exc), tool_version=__version__)
    if verdict:
        report.verdict = _verdict(report, None, [], stability, settings)
    return report


def analyze_image(
    image: LoadedImage,
    analyzers: Sequence[str] | Sequence[Analyzer] | None = None,
    verdict: bool = True,
    stability: bool = True,
    settings: Settings | None = None,
) -> Report:
    """Run each analyzer on an already loaded image; one failing analyzer never stops the rest.
    With ``verdict`` the findings are fused into ``report.verdict`` (see pixelsleuth.verdict),
    checked for stability on perturbed copies when ``stability`` is set. ``settings`` (default:
    the environment's) configure analyzers given by name and choose the verdict's model."""
    settings = settings or Settings.from_env()
    instances = _resolve(analyzers, settings)
    report = Report(file=image.info, tool_version=__version__)
    if image.header_error is not None:
        # No image in it (empty, random bytes, an unsupported format): nothing to judge. The
        # integrity analyzer, when asked for, explains what the file is instead. An image
        # damaged inside its header still has metadata worth reading.
        report.error = str(image.header_error)
        damaged = isinstance(image.header_error, DamagedImageError)
        instances = [
            a for a in instances if a.name == "integrity" or (damaged and not a.needs_pixels)
        ]
    for analyzer in instances:
        report.findings.append(run_analyzer(analyzer, image))
    if verdict:
        report.verdict = _verdict(report, image, instances, stability, settings)
    return report


def _verdict(
    report: Report,
    image: LoadedImage | None,
    instances: list[Analyzer],
    stability: bool,
    settings: Settings,
) -> Verdict:
    from pixelsleuth.verdict import decide, default_model, default_table

    try:
        model = default_model(settings.verdict_model)
        table = default_table(settings.calibration)
        coverage = None if image is None else measure_coverage(image)
        verdict = decide(report, model, table, coverage)
        if stability and image is not None and verdict.method == "model":
            verdict = check_stability(report, image, instances, verdict, model, table)
        return verdict
    except Exception as exc:  # a broken model file or a bug: keep the findings, say so
        log.debug("verdict failed for %s", report.file.path, exc_info=True)
        fallback = decide(report, None)
        fallback.reasons.append(
            f"The evidence could not be combined: {type(exc).__name__}: {str(exc)[:200]}."
        )
        return fallback


def preload(settings: Settings | None = None, profile: str = "full") -> str:
    """Load everything the first analysis under ``settings`` would (the profile's analyzers,
    the detector's weights, the verdict model and calibration), once per process; says, in
    words, whether a verdict model is installed."""
    from pixelsleuth.verdict import default_model, default_table

    settings = settings or Settings.from_env()
    for analyzer in create_analyzers(None, profile, settings):
        analyzer.preload()
    default_table(settings.calibration)
    return "verdict model " + ("installed" if default_model(settings.verdict_model) else "missing")


def measure_coverage(image: LoadedImage) -> Coverage:
    """What there is to judge in ``image``: its size, how textured its decoded pixels are and
    whether they decode at all (a damaged file's readable part is analysed, but partly)."""
    from pixelsleuth.verdict.rules import Coverage, textured_share

    coverage = Coverage(image.info.width, image.info.height)
    if image.header_error is not None:
        return coverage
    coverage.partial = bool(getattr(image, "partial", False))
    try:
        coverage.textured_share = image.memo("textured_share", lambda: textured_share(image.gray()))
    except ImageInputError:
        coverage.partial = True  # the pixels do not decode
    return coverage


def stability_reports(
    report: Report, image: LoadedImage, analyzers: Sequence[Analyzer]
) -> Iterator[tuple[str, Report]]:
    """(description, Report) for each stability copy: only the analyzers that feed
    P(AI-generated) run again, on a copy made from the already decoded pixels; every other
    finding is the original's. Nothing when none of those analyzers ran or the image is too
    small for the detector."""
    from pixelsleuth.verdict.stability import (
        MIN_STABILITY_SIDE,
        STABILITY_ANALYZERS,
        stability_copies,
    )

    rerun = [a for a in analyzers if a.name in STABILITY_ANALYZERS]
    if not rerun or min(image.info.width or 0, image.info.height or 0) < MIN_STABILITY_SIDE:
        return
    for name, data in stability_copies(image.rgb()):
        copy = load_bytes(data, f"{report.file.path} ({name})", image.limits)
        redone = {a.name: run_analyzer(a, copy) for a in rerun}
        findings = [redone.get(f.analyzer, f) for f in report.findings]
        yield name, Report(file=copy.info, findings=findings, tool_version=__version__)


def check_stability(
    report: Report,
    image: LoadedImage,
    analyzers: Sequence[Analyzer],
    verdict: Verdict,
    model: VerdictModel | None,
    table: CalibrationTable | None = None,
) -> Verdict:
    """``verdict``, or inconclusive when a recompressed or rescaled copy, judged by the same
    ``model`` and ``table``, disagrees with it on whether the image is AI-generated (see
    pixelsleuth.verdict.rules.settle)."""
    from pixelsleuth.verdict import decide, settle

    try:
        copies = [
            (name, decide(copy, model, table))
            for name, copy in stability_reports(report, image, analyzers)
        ]
    except ImageInputError:  # pixels that do not decode: nothing to perturb
        return verdict
    return settle(verdict, copies)


def run_analyzer(analyzer: Analyzer, image: LoadedImage) -> Finding:
    start = time.perf_counter()
    try:
        finding = analyzer.analyze(image)
    except ImageInputError as exc:
        finding = Finding(
            analyzer=analyzer.name,
            summary=f"Could not run: {exc}.",
            error=str(exc),
        )
    except Exception as exc:
        # A bug or an input we did not foresee: keep the other results, say what happened.
        log.debug("analyzer %s failed on %s", analyzer.name, image.path, exc_info=True)
        finding = Finding(
            analyzer=analyzer.name,
            summary="Could not run because of an internal error; the other results stand.",
            error=f"internal error: {type(exc).__name__}: {str(exc)[:200]}",
        )
    if image.working_size is not None and analyzer.needs_pixels and finding.score is not None:
        w, h = image.working_size
        finding.details["working_size"] = [w, h]
        finding.summary += (
            f" (Worked on a {w}×{h} copy of the {image.info.width}×{image.info.height} image, "
            "reduced to fit the memory budget.)"
        )
    finding.elapsed_s = time.perf_counter() - start
    return finding


def _resolve(
    analyzers: Iterable[str] | Iterable[Analyzer] | None, settings: Settings
) -> list[Analyzer]:
    if analyzers is None:
        return create_analyzers(settings=settings)
    items = list(analyzers)
    if all(isinstance(a, Analyzer) for a in items):
        return items  # type: ignore[return-value]
    return create_analyzers((str(a) for a in items), settings=settings)
