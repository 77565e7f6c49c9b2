"""Run analyzers over a file and collect one :class:`Report`.

This is the one entry point that the CLI, the batch audit and the app share.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence

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

log = logging.getLogger(__name__)


def analyze_file(
    path: str | os.PathLike[str],
    analyzers: Sequence[str] | Sequence[Analyzer] | None = None,
    limits: Limits | None = None,
    verdict: bool = True,
    stability: bool = True,
) -> Report:
    """Analyse one file. Never raises for bad input: problems are recorded in the Report."""
    try:
        image = load_image(path, limits)
    except ImageInputError as exc:
        report = Report(file=FileInfo(path=str(path)), error=str(exc), tool_version=__version__)
        if verdict:
            report.verdict = _verdict(report, None, [], stability)
        return report
    return analyze_image(image, analyzers, verdict, stability)


def analyze_bytes(
    data: bytes,
    name: str,
    analyzers: Sequence[str] | Sequence[Analyzer] | None = None,
    limits: Limits | None = None,
    verdict: bool = True,
    stability: bool = True,
) -> Report:
    """Analyse bytes already in memory (an upload); ``name`` is shown as the path."""
    try:
        image = load_bytes(data, name, limits)
    except ImageInputError as exc:
        report = Report(file=FileInfo(path=name), error=str(exc), tool_version=__version__)
        if verdict:
            report.verdict = _verdict(report, None, [], stability)
        return report
    return analyze_image(image, analyzers, verdict, stability)


def analyze_image(
    image: LoadedImage,
    analyzers: Sequence[str] | Sequence[Analyzer] | None = None,
    verdict: bool = True,
    stability: bool = True,
) -> Report:
    """Run each analyzer on an already loaded image; one failing analyzer never stops the rest.
    With ``verdict`` the findings are fused into ``report.verdict`` (see detectors.fusion),
    checked for stability on perturbed copies when ``stability`` is set."""
    instances = _resolve(analyzers)
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
        report.verdict = _verdict(report, image, instances, stability)
    return report


def _verdict(
    report: Report, image: LoadedImage | None, instances: list[Analyzer], stability: bool
) -> Verdict:
    from pixelsleuth.detectors.fusion import decide, default_model, fuse

    try:
        model = default_model()
        return fuse(report, image, instances, model, stability)
    except Exception as exc:  # a broken model file or a bug: keep the findings, say so
        log.debug("verdict failed for %s", report.file.path, exc_info=True)
        fallback = decide(report, None)
        fallback.reasons.append(
            f"The evidence could not be combined: {type(exc).__name__}: {str(exc)[:200]}."
        )
        return fallback


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
    finding.elapsed_s = time.perf_counter() - start
    return finding


def _resolve(analyzers: Iterable[str] | Iterable[Analyzer] | None) -> list[Analyzer]:
    if analyzers is None:
        return create_analyzers()
    items = list(analyzers)
    if all(isinstance(a, Analyzer) for a in items):
        return items  # type: ignore[return-value]
    return create_analyzers(str(a) for a in items)
