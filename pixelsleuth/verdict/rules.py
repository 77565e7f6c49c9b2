"""The decision: from a Report (and what the pixels cover) to one Verdict with its reasons.

Order of the rules, each explained in words in the verdict's reasons:

1. A file that could not be analysed at all is inconclusive, with the error.
2. Conclusive provenance decides (generator settings in their proper container, an AI
   declaration in C2PA or XMP, Content Credentials that no longer match), with a caveat.
3. Too little to judge is inconclusive with the cause: too few pixels, an almost uniform
   image, a damaged file that only partly decodes, too few analyzers run, or most of them
   abstaining.
4. The model's calibrated probabilities pick a label when it reaches its fitted threshold.
   "Camera original" also needs positive camera evidence (camera metadata and JPEG tables
   consistent with it); without it the label is "no signs found". Neither may stand above a
   section that the calibration table flags as suspicious: then the verdict is inconclusive.
5. The stability check (:func:`settle`) makes an AI call that a recompressed or rescaled copy
   does not repeat (or vice versa) inconclusive.

This module never imports the analysis runner (`pixelsleuth.analyze` imports it), so fitting
(`verdict.fit`) and analysing share this one decision code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pixelsleuth.report import Direction, Evidence, Finding, Report, Verdict, VerdictLabel
from pixelsleuth.verdict.calibration import CalibrationTable
from pixelsleuth.verdict.features import PIXEL_ANALYZERS, SCORED_ANALYZERS, features
from pixelsleuth.verdict.model import CLASSES, VerdictModel

DECISIVE_STRENGTH = 0.85  # provenance evidence at least this strong decides on its own
MIN_ANALYZERS = 5  # fewer of SCORED_ANALYZERS run (say, --analyzers metadata): no model verdict
MIN_PIXEL_VOICES = 3  # fewer pixel analyzers with a score: too little evidence to judge
MIN_SIDE = 64  # smaller images carry too few pixels for any pixel trace (detector data.py)
FLAT_STD = 2.0  # grey levels: an 8×8 block with less luma spread is flat
MIN_TEXTURED_SHARE = 0.02  # under this share of textured blocks, an image is too flat to judge
CAVEAT = (
    "Metadata can be stripped or forged: this verdict trusts what the file declares about itself."
)
# What each label means, for the README, the CLI and the app.
LABEL_DEFINITIONS = {
    VerdictLabel.AI_GENERATED: "AI-generated: the file declares a generator, or the evidence "
    "(above all the detector) points to generation with a calibrated probability over its "
    "threshold.",
    VerdictLabel.MANIPULATED: "Manipulated: the evidence points to editing after capture "
    "(pasted or cloned regions, broken Content Credentials, re-saving by editing software "
    "together with pixel traces).",
    VerdictLabel.CAMERA_ORIGINAL: "Camera original: nothing points to generation or editing, "
    "and the file carries positive camera evidence: its metadata names a camera and its JPEG "
    "tables are consistent with that camera.",
    VerdictLabel.NO_SIGNS_FOUND: "No signs found: nothing points to generation or editing, but "
    "the file carries no camera evidence either (stripped metadata, a re-save, PNG, a "
    "screenshot); it may still be a photo, edited or generated.",
    VerdictLabel.INCONCLUSIVE: "Inconclusive: too little to judge (the reason says why) or "
    "evidence that points both ways.",
}
_FOR = {
    VerdictLabel.AI_GENERATED: (Direction.AI,),
    VerdictLabel.MANIPULATED: (Direction.EDITED,),
    VerdictLabel.CAMERA_ORIGINAL: (Direction.CAMERA,),
    VerdictLabel.NO_SIGNS_FOUND: (),
}
_AGAINST = {
    VerdictLabel.AI_GENERATED: (Direction.CAMERA,),
    VerdictLabel.MANIPULATED: (Direction.CAMERA,),
    VerdictLabel.CAMERA_ORIGINAL: (Direction.AI, Direction.EDITED),
    VerdictLabel.NO_SIGNS_FOUND: (Direction.AI, Direction.EDITED),
}
_SUSPICIOUS_LABELS = (VerdictLabel.AI_GENERATED, VerdictLabel.MANIPULATED)
_CLEAN_LABELS = (VerdictLabel.CAMERA_ORIGINAL, VerdictLabel.NO_SIGNS_FOUND)


@dataclass
class Coverage:
    """How much of the image there is to judge, measured on its decoded pixels.

    ``textured_share``: share (0–1) of 8×8 luma blocks whose spread reaches FLAT_STD grey
    levels; None when the pixels did not decode. ``partial``: the file's data ends early or
    does not fully decode, so only part of the image (or none) was analysed."""

    width: int | None = None
    height: int | None = None
    textured_share: float | None = None
    partial: bool = False


def textured_share(gray: np.ndarray) -> float:
    """Share (0–1) of whole 8×8 blocks of ``gray`` (H×W, 0–255) whose standard deviation
    reaches FLAT_STD; 0 for images under one block."""
    h, w = gray.shape[0] // 8 * 8, gray.shape[1] // 8 * 8
    if h == 0 or w == 0:
        return 0.0
    step = max(1, round((h * w / 4e6) ** 0.5))  # large images: every step-th block suffices
    blocks = gray[:h, :w].reshape(h // 8, 8, w // 8, 8)[::step, :, ::step, :]
    return float((blocks.std(axis=(1, 3)) >= FLAT_STD).mean())


def is_partial(report: Report) -> bool:
    """The file ends early or its pixels do not fully decode (from FileInfo.partial when the
    loader sets it, else from the integrity finding)."""
    if getattr(report.file, "partial", False):
        return True
    integrity = report.finding("integrity")
    return integrity is not None and any(
        e.code in ("truncated", "no_end_marker") for e in integrity.evidence
    )


def coverage_cause(report: Report, coverage: Coverage | None) -> str | None:
    """Why there is too little to judge, in words, or None when there is enough."""
    width = report.file.width or (coverage.width if coverage else None)
    height = report.file.height or (coverage.height if coverage else None)
    if width and height and min(width, height) < MIN_SIDE:
        return (
            f"The image is only {width}×{height} pixels: too small for its pixels to show "
            f"traces of a camera, an editor or a generator (at least {MIN_SIDE} pixels a side "
            "are needed)."
        )
    if is_partial(report) or (coverage is not None and coverage.partial):
        integrity = report.finding("integrity")
        damage = integrity.evidence[0].message if integrity and integrity.evidence else ""
        return (
            "The file is damaged, so the evidence is incomplete: only the part that could be "
            f"read was analysed, and nothing in it settles the question. {damage}"
        ).rstrip()
    share = None if coverage is None else coverage.textured_share
    if share is not None and share < MIN_TEXTURED_SHARE:
        return (
            f"The image is almost uniform ({share:.0%} of it has any texture): there are too "
            "few details for any analyzer to judge."
        )
    ran = [a for a in SCORED_ANALYZERS if report.finding(a) is not None]
    if len(ran) < MIN_ANALYZERS:
        return (
            f"Only {len(ran)} of the analyzers the verdict weighs were asked for "
            f"({', '.join(ran) or 'none'}); a verdict needs at least {MIN_ANALYZERS} of them "
            f"({', '.join(SCORED_ANALYZERS)})."
        )
    asked = [report.finding(a) for a in PIXEL_ANALYZERS if report.finding(a) is not None]
    voices = [f for f in asked if f.error is None and f.score is not None]
    if len(asked) >= MIN_PIXEL_VOICES and len(voices) < MIN_PIXEL_VOICES:
        silent = "; ".join(f"{f.analyzer}: {_first_sentence(f.summary)}" for f in asked[:4])
        return (
            f"Only {len(voices)} of the {len(asked)} pixel analyzers could judge this image, "
            f"too few for a verdict ({silent})."
        )
    return None


def _first_sentence(text: str) -> str:
    head = text.split(". ")[0].rstrip(".")
    return head if len(head) <= 160 else head[:157] + "…"


def decisive_provenance(report: Report) -> Verdict | None:
    """A verdict straight from conclusive provenance, or None."""
    strong: list[tuple[Evidence, VerdictLabel]] = []
    for name in ("provenance", "generator-metadata"):
        finding = report.finding(name)
        if finding is None or finding.error:
            continue
        for e in finding.evidence:
            if e.code == "c2pa_tampered":
                strong.append((e, VerdictLabel.MANIPULATED))
            elif e.direction is Direction.AI and e.strength >= DECISIVE_STRENGTH:
                strong.append((e, VerdictLabel.AI_GENERATED))
    if not strong:
        return None
    strong.sort(key=lambda item: -item[0].strength)
    label = strong[0][1]
    probability = max(e.strength for e, lab in strong if lab is label)
    reasons = [*[e.message for e, lab in strong if lab is label][:4], CAVEAT]
    return Verdict(
        label,
        ai_probability=probability if label is VerdictLabel.AI_GENERATED else None,
        manipulation_probability=probability if label is VerdictLabel.MANIPULATED else None,
        reasons=reasons,
        method="provenance",
    )


def camera_evidence(report: Report) -> list[str]:
    """The positive camera evidence, as sentences: the metadata names a camera and the JPEG
    tables are that camera's own or at least not a software encoder's. Empty when either is
    missing (no camera named, not a JPEG, software tables)."""
    metadata, jpeg = report.finding("metadata"), report.finding("jpeg")
    if metadata is None or jpeg is None or metadata.error or jpeg.error or jpeg.score is None:
        return []
    named = [e for e in metadata.evidence if e.code == "camera_named"]
    if not named:
        return []
    software = {"software_tables_with_camera_exif", "foreign_tables"}
    if any(e.code in software for e in jpeg.evidence):
        return []
    tables = [e.message for e in jpeg.evidence if e.code == "camera_tables"]
    return [named[0].message, *tables]


def detector_calls_generated(report: Report) -> bool:
    """The detector's own call: its probability reaches the threshold it was calibrated with
    (its validation photos), whatever the verdict's stricter alarm level."""
    f = report.finding("detector")
    if f is None or f.error:
        return False
    return any(e.code == "detector_ai" for e in f.evidence)


# metadata evidence that the file was processed after capture: common among ordinary photos
# (so no alarm level), but it makes "nothing points to editing" untrue in words
DECLARED_EDITING = ("editor_software", "camera_raw_settings")


def declared_editing(report: Report) -> list[str]:
    """The metadata's statements that editing software processed the file, as sentences."""
    metadata = report.finding("metadata")
    if metadata is None or metadata.error:
        return []
    return [e.message for e in metadata.evidence if e.code in DECLARED_EDITING]


def flagged(report: Report, table: CalibrationTable) -> list[Finding]:
    """The findings the calibration table calls suspicious, highest score first."""
    found = [f for f in report.findings if table.suspicious(f)]
    return sorted(found, key=lambda f: -(f.score or 0.0))


def _evidence(report: Report, directions: Sequence[Direction]) -> list[Evidence]:
    found = [
        e
        for f in report.findings
        if f.error is None
        for e in f.evidence
        if e.direction in directions and e.strength > 0
    ]
    return sorted(found, key=lambda e: -e.strength)


def reasons_for_and_against(
    report: Report, label: VerdictLabel, alarms: list[Finding], limit: int = 3
) -> list[str]:
    """The strongest evidence for the label and against it, each a finding in words
    ("For: …", "Against: …"); never the probabilities themselves."""
    out: list[str] = []
    if label in _SUSPICIOUS_LABELS:
        out += [f"For: {f.summary}" for f in alarms[:limit]]
    if label is VerdictLabel.CAMERA_ORIGINAL:
        out += [f"For: {m}" for m in camera_evidence(report)]
    if label in _CLEAN_LABELS:
        out.append(
            "For: no analyzer reaches the level that fewer than 5 % of ordinary photos reach."
        )
    if label is VerdictLabel.NO_SIGNS_FOUND:
        out.append(
            "Against calling it a camera original: the file carries no camera evidence (no "
            "camera named in its metadata with JPEG tables consistent with that camera)."
        )
    seen = set(out)
    for e in _evidence(report, _FOR.get(label, ())):
        line = f"For: {e.message}"
        if line not in seen and sum(r.startswith("For:") for r in out) < limit:
            out.append(line)
            seen.add(line)
    against = _evidence(report, _AGAINST.get(label, ()))
    out += [f"Against: {e.message}" for e in against[:limit]]
    if label in _SUSPICIOUS_LABELS and not against:
        out.append("Against: nothing found points to an untouched camera photo.")
    return out


# Over 80 lines: the decision procedure, read top to bottom in the order its rules apply (the
# README's verdict section follows it); splitting it would hide that order.
def decide(
    report: Report,
    model: VerdictModel | None,
    table: CalibrationTable | None = None,
    coverage: Coverage | None = None,
) -> Verdict:
    """The verdict for one report, before the stability check (see the module docstring).
    ``table`` flags suspicious sections (none without one); ``coverage`` describes the
    decoded pixels (size, texture, damage) when they were available."""
    table = table or CalibrationTable({})
    alarms = flagged(report, table)
    names = [f.analyzer for f in alarms]
    if report.error:
        return Verdict(
            VerdictLabel.INCONCLUSIVE,
            reasons=[f"The file could not be analysed: {report.error}."],
            method="error",
        )
    ruled = decisive_provenance(report)
    if ruled is not None:
        ruled.flagged = names
        return ruled
    cause = coverage_cause(report, coverage)
    if cause is not None:
        return Verdict(VerdictLabel.INCONCLUSIVE, reasons=[cause], method="coverage", flagged=names)
    if model is None:
        return Verdict(
            VerdictLabel.INCONCLUSIVE,
            reasons=["No verdict model is installed, so the evidence was not combined."],
            method="none",
            flagged=names,
        )
    p = model.predict_proba(features(report))[0]
    p_ai, p_manip = float(p[1]), float(p[2])
    label = model.label_of(p)
    reasons: list[str] = []
    if label is VerdictLabel.CAMERA_ORIGINAL and not camera_evidence(report):
        label = VerdictLabel.NO_SIGNS_FOUND
    detector = report.finding("detector")
    if label in _CLEAN_LABELS and detector is not None and detector.error:
        # the main witness for generation failed (a broken install, a bug): "nothing found"
        # would rest on its silence
        reasons.append(
            "The detector, the main evidence for or against generation, could not run, so the "
            f"absence of other signs settles nothing: {detector.summary}"
        )
        label = VerdictLabel.INCONCLUSIVE
    elif label in _CLEAN_LABELS and detector_calls_generated(report):
        # "nothing points to generation" would be false in words: the detector does, though
        # at a level some ordinary photos reach too (so its section is not flagged)
        reasons = _mixed(
            "Mixed evidence: the detector rates the pixels as generated, above its own "
            "threshold, though ordinary photos sometimes score as high; nothing else points "
            f"to generation. {detector.summary if detector else ''}".rstrip(),
            [],
            report,
        )
        label = VerdictLabel.INCONCLUSIVE
    elif label in _CLEAN_LABELS and alarms:
        reasons = _mixed(
            f"Mixed evidence: nothing else points to generation or editing, but the {names[0]} "
            "section reaches a level that fewer than 5 % of ordinary photos reach.",
            [f.summary for f in alarms[:3]],
            report,
        )
        label = VerdictLabel.INCONCLUSIVE
    elif label in _CLEAN_LABELS and (edited := declared_editing(report)):
        # developing or retouching is not forgery, and a clean label would deny it happened
        reasons = _mixed(
            "Processed after capture: the metadata says editing software saved the file, "
            "which tells that it was processed, not what was changed; nothing in the pixels "
            "points to pasted, cloned or generated content.",
            edited[:2],
            report,
        )
        label = VerdictLabel.INCONCLUSIVE
    elif label is VerdictLabel.INCONCLUSIVE:
        leaning = _leaning(p)
        reasons.append(
            "The evidence points both ways: no outcome is likely enough to name "
            f"(the strongest lean is towards {leaning})."
        )
        reasons += [f"Points to editing or generation: {f.summary}" for f in alarms[:2]]
        reasons += [
            f"Points to an untouched photo: {e.message}"
            for e in _evidence(report, (Direction.CAMERA,))[:2]
        ]
    else:
        reasons = reasons_for_and_against(report, label, alarms)
    return Verdict(label, p_ai, p_manip, reasons, method="model", flagged=names)


def _mixed(cause: str, against: list[str], report: Report) -> list[str]:
    """The reasons of a clean label turned inconclusive: the cause, then what speaks against
    an untouched photo and the camera evidence that speaks for one."""
    return [
        cause,
        *(f"Against an untouched photo: {m}" for m in against),
        *(f"For an untouched photo: {m}" for m in camera_evidence(report)),
    ]


def _leaning(p: np.ndarray) -> str:
    """The most likely class in words (for an inconclusive verdict's lean)."""
    return {
        VerdictLabel.CAMERA_ORIGINAL: "an untouched photo",
        VerdictLabel.AI_GENERATED: "generation",
        VerdictLabel.MANIPULATED: "editing",
    }[CLASSES[int(np.argmax(p))]]


def contradicts(label: VerdictLabel, copy_label: VerdictLabel) -> bool:
    """Whether a copy's label undoes the original's: they disagree on "AI-generated"."""
    ai = VerdictLabel.AI_GENERATED
    return (label is ai) != (copy_label is ai)


def settle(verdict: Verdict, copies: Sequence[tuple[str, Verdict]]) -> Verdict:
    """The verdict after the stability check: inconclusive when a copy's verdict
    (description, Verdict) contradicts it on "AI-generated"."""
    for name, other in copies:
        if contradicts(verdict.label, other.label):
            return Verdict(
                VerdictLabel.INCONCLUSIVE,
                verdict.ai_probability,
                verdict.manipulation_probability,
                [
                    f"Unstable: the evidence says {verdict.label.value}, but a copy "
                    f"{name} reads as {other.label.value}, so neither is reliable.",
                    *verdict.reasons,
                ],
                method="model (unstable)",
                flagged=verdict.flagged,
            )
    return verdict
