"""Plain-text rendering of a Report for the terminal."""

from __future__ import annotations

import hashlib
import re
import textwrap
from pathlib import Path

from pixelsleuth.messages import in_words
from pixelsleuth.report import Report, percent


def render_text(report: Report, verbose: bool = False) -> str:
    f = report.file
    head = f.path
    facts = []
    if f.format:
        facts.append(f.format)
    if f.width and f.height:
        facts.append(f"{f.width}×{f.height}")
    if f.mode:
        facts.append(f.mode)
    if f.frames and f.frames > 1:
        facts.append(f"{f.frames} frames")
    if f.size_bytes is not None:
        facts.append(_size(f.size_bytes))
    lines = [head, "  " + ", ".join(facts) + (f"  sha256 {f.sha256[:16]}…" if f.sha256 else "")]
    if report.error:
        lines.append(f"  ERROR: {in_words(report.error)}")
    if report.verdict is not None:
        v = report.verdict
        prob = ""
        if v.ai_probability is not None:
            prob = f" (AI {percent(v.ai_probability)}"
            if v.manipulation_probability is not None:
                prob += f", edited {percent(v.manipulation_probability)}"
            prob += ")"
        lines.append(f"  VERDICT: {v.label.value}{prob}")
        lines += [f"    - {in_words(r)}" for r in v.reasons[:5]]
    flagged = set(report.verdict.flagged) if report.verdict is not None else set()
    for finding in report.findings:
        score = "  -  " if finding.score is None else f"{finding.score:4.2f} "
        # "!" could not run; "*" reaches its calibrated alarm level (as in the app)
        flag = "!" if finding.error else "*" if finding.analyzer in flagged else " "
        summary = in_words(finding.summary) if finding.error else finding.summary
        lines.append(f" {flag}{finding.analyzer:<19}{score} " + _wrap(summary, 27))
        shown = (
            finding.evidence
            if verbose
            else [e for e in finding.evidence if e.strength >= 0.1 and e.message != finding.summary]
        )
        for ev in shown[:6]:
            lines.append(" " * 27 + "· " + _wrap(ev.message, 29))
    return "\n".join(lines)


def _wrap(text: str, indent: int) -> str:
    return textwrap.fill(text, width=100, subsequent_indent=" " * indent, initial_indent="")[:2000]


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def write_heatmaps(report: Report, folder: str | Path, max_width: int = 1024) -> list[Path]:
    """Write every heatmap of ``report`` as a colour PNG in ``folder`` (created if needed):
    ``<file stem>-<sha256 prefix>.<analyzer>.<map>.png``. Records each path on its Heatmap."""
    from pixelsleuth.drawing import save_heatmap

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(report.file.path).stem)[:80] or "image"
    tag = (report.file.sha256 or hashlib.sha256(report.file.path.encode()).hexdigest())[:8]
    width = min(report.file.width or max_width, max_width)
    written = []
    for finding in report.findings:
        for heat in finding.heatmaps:
            if heat.data is None:  # read back from JSON: no pixels to draw
                continue
            path = folder / f"{stem}-{tag}.{finding.analyzer}.{heat.name}.png"
            save_heatmap(heat.data, path, width=width if heat.name != "spectrum" else None)
            heat.path = str(path)
            written.append(path)
    return written
