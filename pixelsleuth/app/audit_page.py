"""Audit: a folder on the server (or an uploaded zip) through the batch audit, with progress,
a sortable and filterable table, any row opened, and the reports to download."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from pixelsleuth.app.card import (
    analyzer_texts,
    app_settings,
    in_words,
    label_name,
    message,
    plain,
    report_card,
)
from pixelsleuth.app.jobs import Job
from pixelsleuth.audit import audit, extract_zip, iter_files
from pixelsleuth.audit_results import AuditEntry, read_audit, write_csv
from pixelsleuth.htmlreport import write_html
from pixelsleuth.report import VerdictLabel

# every label the verdict can give, then the rows that could not be analysed
VERDICTS = [label.value for label in VerdictLabel] + ["error"]
NO_IMAGE = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='64' height='64'>"
    "<rect width='64' height='64' fill='%23eee'/><path d='M20 20L44 44M44 20L20 44' "
    "stroke='%23bbb' stroke-width='4'/></svg>"
)
"""What the image column shows for a file without a thumbnail (an error row): a grey cross,
drawn inline, rather than the word "None"."""


def _stability_default() -> bool:
    """The CLI's default for ``pixelsleuth audit --stability/--no-stability``: the default
    profile's choice (the option itself defaults to "the profile's")."""
    import inspect

    from pixelsleuth.analyzers import get_profile
    from pixelsleuth.cli import audit as audit_command

    params = inspect.signature(audit_command).parameters
    chosen = params["stability"].default
    return get_profile(params["profile"].default).stability if chosen is None else bool(chosen)


AUDIT_STABILITY_DEFAULT = _stability_default()


def display_name(path: str, root: Path) -> str:
    """A row's file as the user knows it: its path under the audited folder (for an uploaded
    zip, its name inside the zip), not the server's temporary path."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path


def whole_percent(p: float | None) -> int | None:
    """A probability as a whole percent for the table: the models do not support decimals."""
    return None if p is None else round(100 * p)


def map_caption(name: str) -> str:
    """A heatmap's caption from the report's "analyzer: map" name, without saying the same
    word twice ("ghost: ghost" → "JPEG ghosts")."""
    analyzer, _, heat = name.partition(": ")
    title = analyzer_texts().get(analyzer, (analyzer, ""))[0]
    same = heat.replace("_", "-") in ("", analyzer)  # "copy-move: copy_move"
    return title if same else f"{title} — {heat.replace('_', ' ')}"


def _workdir() -> Path:
    if "audit_dir" not in st.session_state:
        st.session_state.audit_dir = tempfile.mkdtemp(prefix="pixelsleuth-audit-")
    return Path(st.session_state.audit_dir)


def start_audit(folder: Path, stability: bool) -> Job:
    """Start an audit of ``folder`` in the background; outputs go to a fresh folder."""
    out_dir = Path(tempfile.mkdtemp(prefix="run-", dir=_workdir()))
    out = out_dir / "results.jsonl"

    def run(progress):
        summary = audit(
            folder,
            out,
            stability=stability,
            extras=True,
            progress=False,
            on_progress=progress,
            settings=app_settings(),
        )
        write_csv(out, out_dir / "results.csv")
        write_html(out, out_dir / "report.html")
        return {"summary": summary, "out": out, "dir": out_dir, "folder": folder}

    return Job("audit", run).start()


def render() -> None:
    st.header("Audit a folder")
    st.caption(
        "Every file under the folder is analysed (recursively); each gets one row. Damaged "
        "files and non-images get a row that says what is wrong. Inputs are only read."
    )
    source = st.radio(
        "Images from",
        ["A folder on this server", "An uploaded zip"],
        horizontal=True,
        key="audit_source",
    )
    folder: Path | None = None
    if source == "A folder on this server":
        text = st.text_input("Folder path", key="audit_folder", placeholder="/data/photos")
        if text:
            folder = Path(text).expanduser()
            if not folder.is_dir():
                st.error(plain(f"{folder} is not a folder on this server."))
                folder = None
    else:
        upload = st.file_uploader("Zip of images", type=["zip"], key="audit_zip")
        if upload is not None:
            target = _workdir() / f"zip-{upload.file_id}"
            if not target.exists():
                try:
                    n = extract_zip(upload.getvalue(), target)
                    st.success(f"Unpacked {n} files.")
                except ValueError as exc:
                    st.error(message(f"Could not use this zip: {exc}"))
                    target = None
            folder = target
    stability = st.toggle(
        "Check each verdict on recompressed and rescaled copies (slower, more careful)",
        value=AUDIT_STABILITY_DEFAULT,  # as `pixelsleuth audit` (--no-stability turns it off)
        key="audit_stability",
    )
    job: Job | None = st.session_state.get("audit_job")
    if folder is not None and st.button(
        "Run the audit", type="primary", key="audit_run", disabled=job is not None and job.running
    ):
        n = sum(1 for _ in iter_files(folder))
        st.session_state.audit_job = job = start_audit(folder, stability)
        job.total = job.total or n  # the bar shows 0/n from the start, not 0/?
        st.toast(f"Auditing {n} files…")
    if job is None:
        return
    _progress(job)
    if not job.running:
        _results(job)


@st.fragment(run_every=1.0)
def _progress(job: Job) -> None:
    if job.running:
        st.progress(job.fraction, text=f"Auditing: {job.status()}")
    elif job.error:
        st.error(message(f"The audit stopped: {job.error}"))
    else:
        st.progress(1.0, text=f"Done: {job.status()}")
        if st.session_state.get("audit_shown") is not job:
            st.session_state.audit_shown = job
            st.rerun()  # once, so the results below appear without a click


# Over 80 lines: most of it is the table's declarative column configuration, one entry a column.
def _results(job: Job) -> None:
    if job.error or job.result is None:
        return
    out: Path = job.result["out"]
    root: Path = job.result["folder"]
    entries = {e.row.path: e for e in read_audit(out)}
    st.subheader(f"{len(entries)} files")
    chosen = st.multiselect(
        "Show verdicts", VERDICTS, default=VERDICTS, format_func=label_name, key="audit_filter"
    )
    query = st.text_input("Filter by file or reason", key="audit_query").lower()
    table = []
    for entry in entries.values():
        row = entry.row
        reason = in_words(row.top_reason)
        name = display_name(row.path, root)
        if row.label not in chosen or (query and query not in f"{name} {reason}".lower()):
            continue
        table.append(
            {
                "image": (entry.extras.thumbnail if entry.extras else None) or NO_IMAGE,
                "file": name,
                "verdict": label_name(row.label),
                "P(AI)": whole_percent(row.ai_probability),
                "P(manipulated)": whole_percent(row.manipulation_probability),
                "top reason": reason,
                "detector": whole_percent(row.score("detector")),
                "_path": row.path,
            }
        )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_order=AUDIT_COLUMNS,
        column_config={
            "image": st.column_config.ImageColumn("image", width=60),
            "file": st.column_config.TextColumn("file", width=170),
            "verdict": st.column_config.TextColumn("verdict", width=120),
            "P(AI)": st.column_config.ProgressColumn(
                "P(AI)", min_value=0, max_value=100, format="%d%%", width=90
            ),
            "P(manipulated)": st.column_config.ProgressColumn(
                "P(manipulated)", min_value=0, max_value=100, format="%d%%", width=120
            ),
            "top reason": st.column_config.TextColumn("top reason", width="large"),
            # a progress column leaves an empty cell where there is no score (a number
            # column would print "None")
            "detector": st.column_config.ProgressColumn(
                "detector",
                min_value=0,
                max_value=100,
                format="%d%%",
                width=90,
                help="the CNN's P(AI)",
            ),
        },
        key="audit_table",
    )
    by_name = {t["file"]: t["_path"] for t in table}
    if by_name:
        pick = st.selectbox("Open a row", list(by_name), key="audit_open")
        _row_details(entries[by_name[pick]])
    d = job.result["dir"]
    cols = st.columns(3)
    for col, (name, mime) in zip(
        cols,
        [
            ("results.jsonl", "application/json"),
            ("results.csv", "text/csv"),
            ("report.html", "text/html"),
        ],
        strict=True,
    ):
        col.download_button(
            f"Download {name}",
            (d / name).read_bytes(),
            file_name=name,
            mime=mime,
            key=f"audit_dl_{name}",
        )


AUDIT_COLUMNS = ["image", "file", "verdict", "P(AI)", "P(manipulated)", "top reason", "detector"]
"""The table's columns, left to right: what a row is and its verdict first, so that the top
reason is on screen without scrolling."""


def _row_details(entry: AuditEntry) -> None:
    """One row opened: the Inspect page's card for the Report the audit kept (its verdict,
    reasons and every section), with the small image and heatmaps; or, when asked, the full
    card made again from the file on disk (maps at full resolution, every tag)."""
    row = entry.row
    with st.container(border=True):
        full = not row.error and st.toggle(
            "Open the full card (maps at full resolution under the magnifier, every tag; "
            "analyses this file again)",
            key=f"audit_card_{row.sha256}",
        )
        if full:
            _full_card(Path(row.path), row.sha256 or "")
            return
        report_card(entry.report, None, key=f"audit-row-{(row.sha256 or row.path)[:16]}")
        extras = entry.extras
        if extras is not None and extras.maps:
            st.markdown("**Image and heatmaps** (bright = suspicious)")
            cols = st.columns(min(4, len(extras.maps) + 1))
            if extras.image:
                cols[0].image(extras.image, caption="image")
            for i, m in enumerate(extras.maps):
                cols[(i + 1) % len(cols)].image(m.uri, caption=map_caption(m.name))


def _full_card(path: Path, sha256: str) -> None:
    """The Inspect page's card for one audited file, read again from the server's disk."""
    import hashlib

    from pixelsleuth.app.card import report_card
    from pixelsleuth.app.inspect_page import analyse
    from pixelsleuth.imageio import ImageInputError, load_image

    try:
        data = load_image(path, app_settings().limits).data
    except ImageInputError as exc:
        st.error(message(f"Could not read {path.name} again: {exc}"))
        return
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:  # the file changed since the audit: say so rather than mix them
        st.warning("This file changed since the audit; the card shows it as it is now.")
    with st.spinner(f"Analysing {path.name}…"):
        stability = bool(st.session_state.get("audit_stability", True))
        report, rgb = analyse(data, path.name, digest, stability)
    report_card(report, rgb, key=f"audit-{digest[:8]}", data=data)
