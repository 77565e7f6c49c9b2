"""Audit: a folder on the server (or an uploaded zip) through the batch audit, with progress,
a sortable and filterable table, any row opened, and the reports to download."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from pixelsleuth.app.card import plain
from pixelsleuth.app.jobs import Job
from pixelsleuth.audit import audit, extract_zip, extras_path, iter_files, write_csv
from pixelsleuth.htmlreport import write_html

VERDICTS = [
    "ai-generated",
    "manipulated",
    "camera-original",
    "no-signs-found",
    "inconclusive",
    "error",
]


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
            folder, out, stability=stability, extras=True, progress=False, on_progress=progress
        )
        write_csv(out, out_dir / "results.csv")
        write_html(out, out_dir / "report.html", extras_path(out))
        return {"summary": summary, "out": out, "dir": out_dir, "folder": folder}

    return Job("audit", run).start()


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line]


def _extras(out: Path) -> dict[str, dict[str, Any]]:
    side = extras_path(out)
    if not side.is_file():
        return {}
    found = {}
    for line in side.read_text(encoding="utf-8").splitlines():
        if line:
            e = json.loads(line)
            found[e["path"]] = e
    return found


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
                    st.error(plain(f"Could not use this zip: {exc}"))
                    target = None
            folder = target
    stability = st.toggle("Stability check (slower)", value=False, key="audit_stability")
    job: Job | None = st.session_state.get("audit_job")
    if folder is not None and st.button(
        "Run the audit", type="primary", key="audit_run", disabled=job is not None and job.running
    ):
        n = sum(1 for _ in iter_files(folder))
        st.session_state.audit_job = job = start_audit(folder, stability)
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
        st.error(plain(f"The audit stopped: {job.error}"))
    else:
        st.progress(1.0, text=f"Done: {job.status()}")
        if st.session_state.get("audit_shown") is not job:
            st.session_state.audit_shown = job
            st.rerun()  # once, so the results below appear without a click


def _results(job: Job) -> None:
    if job.error or job.result is None:
        return
    out: Path = job.result["out"]
    rows = _rows(out)
    extras = _extras(out)
    st.subheader(f"{len(rows)} files")
    chosen = st.multiselect("Show verdicts", VERDICTS, default=VERDICTS, key="audit_filter")
    query = st.text_input("Filter by path or reason", key="audit_query").lower()
    table = []
    for r in rows:
        verdict = "error" if r["error"] else (r["verdict"] or "inconclusive")
        reason = (r["reasons"] or [r["error"] or ""])[0]
        if verdict not in chosen or (query and query not in f"{r['path']} {reason}".lower()):
            continue
        table.append(
            {
                "thumbnail": (extras.get(r["path"]) or {}).get("thumbnail"),
                "path": r["path"],
                "verdict": verdict,
                "P(AI)": r["ai_probability"],
                "P(manipulated)": r["manipulation_probability"],
                "detector": (r["findings"].get("detector") or {}).get("score"),
                "top reason": reason,
            }
        )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "thumbnail": st.column_config.ImageColumn("image", width="small"),
            "P(AI)": st.column_config.ProgressColumn(
                "P(AI)", min_value=0, max_value=1, format="percent"
            ),
            "P(manipulated)": st.column_config.ProgressColumn(
                "P(manipulated)", min_value=0, max_value=1, format="percent"
            ),
            "detector": st.column_config.NumberColumn("detector", format="%.2f"),
        },
        key="audit_table",
    )
    paths = [t["path"] for t in table]
    if paths:
        pick = st.selectbox("Open a row", paths, key="audit_open")
        _row_details(next(r for r in rows if r["path"] == pick), extras.get(pick))
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


def _row_details(row: dict[str, Any], extra: dict[str, Any] | None) -> None:
    with st.container(border=True):
        if row["error"]:
            st.error(plain(row["error"]))
        for reason in row["reasons"]:
            st.markdown(f"- {plain(reason)}")
        if extra and extra.get("maps"):
            cols = st.columns(min(4, len(extra["maps"]) + 1))
            if extra.get("image"):
                cols[0].image(extra["image"], caption="image")
            for i, m in enumerate(extra["maps"]):
                cols[(i + 1) % len(cols)].image(m["uri"], caption=m["name"])
        st.dataframe(
            [
                {"analyzer": k, "score": v.get("score"), "summary": v.get("summary")}
                for k, v in row["findings"].items()
            ],
            hide_index=True,
            width="stretch",
        )
        if extra and extra.get("metadata"):
            st.markdown("**Metadata**")
            st.json(extra["metadata"], expanded=False)
