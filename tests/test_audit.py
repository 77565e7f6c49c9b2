"""`pixelsleuth audit`: one row per file, streaming, resume after SIGKILL, inputs untouched."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixelsleuth.audit import audit, iter_files
from pixelsleuth.audit_results import ROW_FIELDS, AuditRow, extras_path, read_audit, write_csv
from pixelsleuth.cli import app
from pixelsleuth.htmlreport import write_html

from .conftest import corpus_dir, corpus_manifest, file_state, jpeg_bytes, photo_like

FAST = ["metadata", "generator-metadata", "provenance", "jpeg", "integrity"]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    for i in range(4):
        (root / f"photo{i}.jpg").write_bytes(jpeg_bytes(photo_like(64 + 8 * i, 80, seed=i)))
    (root / "sub" / "notes.txt").write_text("not an image")
    (root / "sub" / "broken.jpg").write_bytes(jpeg_bytes(photo_like())[:300])
    (root / "sub" / "deeper" / "empty.png").write_bytes(b"")
    os.symlink(root, root / "sub" / "deeper" / "loop")  # a symlink loop back to the top
    return root


def test_one_row_per_file_and_nothing_written_to_inputs(folder, tmp_path):
    files = list(iter_files(folder))
    assert len(files) == 7  # the loop is followed once, not forever
    before = {p: file_state(p) for p in files}
    out = tmp_path / "r.jsonl"
    summary = audit(folder, out, analyzers=FAST, progress=False)
    rows = _rows(out)
    assert summary.written == len(rows) == 7
    assert sorted(r["path"] for r in rows) == sorted(map(str, files))
    by_name = {Path(r["path"]).name: r for r in rows}
    assert "not a recognised image" in by_name["notes.txt"]["error"]
    assert "empty" in by_name["empty.png"]["error"]
    assert by_name["photo0.jpg"]["error"] is None and by_name["photo0.jpg"]["sha256"]
    assert set(by_name["photo0.jpg"]["findings"]) == set(FAST)
    assert all(
        set(r) >= {"path", "verdict", "reasons", "findings", "error", "schema_version"}
        for r in rows
    )
    assert {p: file_state(p) for p in files} == before
    assert write_csv(out, tmp_path / "r.csv") == 7


def test_two_workers_give_the_same_rows(folder, tmp_path):
    audit(folder, tmp_path / "one.jsonl", analyzers=FAST, progress=False)
    audit(folder, tmp_path / "two.jsonl", workers=2, analyzers=FAST, progress=False)

    def normalised(path):
        rows = {r["path"]: r for r in _rows(path)}
        return {p: {k: v for k, v in r.items()} for p, r in rows.items()}

    assert normalised(tmp_path / "one.jsonl") == normalised(tmp_path / "two.jsonl")


def test_existing_output_needs_resume(folder, tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text("")
    result = CliRunner().invoke(app, ["audit", str(folder), "--out", str(out)])
    assert result.exit_code == 2 and "--resume" in result.output


@pytest.mark.slow
def test_killed_audit_resumes_with_exactly_one_row_per_file(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(24):
        (src / f"p{i:02d}.jpg").write_bytes(jpeg_bytes(photo_like(480, 640, seed=i), quality=92))
    out = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "pixelsleuth", "audit", str(src), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = out.read_text().count("\n")
    assert 3 <= partial < 24, partial
    done = subprocess.run(
        [*cmd, "--resume", "--workers", "2"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(out)
    paths = [r["path"] for r in rows]
    assert len(paths) == len(set(paths)) == 24
    print(f"\nkilled after {partial} rows; resumed to {len(rows)} rows, none doubled")


def test_audit_of_the_corpus_has_one_row_per_file(tmp_path):
    corpus = corpus_dir()
    manifest = corpus_manifest()
    out = tmp_path / "corpus.jsonl"
    before = {p: file_state(p) for p in corpus.rglob("*") if p.is_file()}
    # every analyzer, the detector and the verdict; the stability copies are left out here
    # only to keep CI short (the closing note times the full default command)
    result = CliRunner().invoke(
        app,
        ["audit", str(corpus), "--out", str(out), "--workers", "2", "--no-stability",
         "--html", str(tmp_path / "corpus.html")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listed = _rows(out)
    rows = {Path(r["path"]).relative_to(corpus).as_posix(): r for r in listed}
    assert len(rows) == len(listed) == len(before)  # manifest, README and every image, once
    for entry in manifest:
        row = rows[entry["path"]]
        if entry["label"] == "broken" and entry["bytes"] == "0":
            assert row["error"]
        elif entry["label"] in ("ai", "real") and int(entry["width"] or 0) >= 64:
            assert row["error"] is None, row
            assert row["verdict"] in {
                "ai-generated",
                "manipulated",
                "camera-original",
                "no-signs-found",
                "inconclusive",
            }
            assert set(row["findings"]) >= {"metadata", "jpeg", "ela", "detector"}
            assert all(f["error"] is None for f in row["findings"].values()), row["findings"]
    comfy = [r for p, r in rows.items() if p.startswith("ai/comfyui/")]
    assert comfy and all(r["verdict"] == "ai-generated" for r in comfy)  # provenance decides
    assert {p: file_state(p) for p in before} == before


def test_html_report_has_every_row_thumbnails_heatmaps_and_errors(folder, tmp_path):
    out = tmp_path / "r.jsonl"
    audit(folder, out, analyzers=[*FAST, "ela"], extras=True, progress=False)
    html = tmp_path / "r.html"
    assert write_html(out, html, extras_path(out)) == 7
    text = html.read_text()
    assert text.count("<tr class='row'") == 7
    assert text.count("<template id='d") == 7
    assert "<img class='thumb' src='data:image/jpeg;base64," in text
    assert "<figcaption>ela: " in text  # the ELA heatmap is in the row details
    assert "class='badge error'>error<" in text  # notes.txt, broken.jpg, empty.png
    assert "http://" not in text and "https://" not in text  # self-contained
    # the JSONL rows keep their documented schema: extras went to the sidecar
    assert all(set(r) == set(ROW_FIELDS) for r in _rows(out))
    assert len(_rows(extras_path(out))) == 4 + 3  # every file has its extras


def test_html_report_works_in_a_real_browser(folder, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    out = tmp_path / "r.jsonl"
    audit(folder, out, analyzers=FAST, extras=True, progress=False)
    html = tmp_path / "r.html"
    write_html(out, html, extras_path(out))
    dom = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert '<span id="count">7 shown</span>' in dom  # the page's script ran


def test_ray_backend_gives_the_same_rows_as_local(folder, tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'pixelsleuth[ray]'")
    audit(folder, tmp_path / "local.jsonl", analyzers=FAST, progress=False)
    audit(folder, tmp_path / "ray.jsonl", analyzers=FAST, progress=False, backend="ray", workers=2)
    local = {r["path"]: r for r in _rows(tmp_path / "local.jsonl")}
    remote = {r["path"]: r for r in _rows(tmp_path / "ray.jsonl")}
    assert len(remote) == len(_rows(tmp_path / "ray.jsonl")) == 7
    assert remote == local


def test_one_reader_gives_rows_their_whole_report_and_the_last_row_of_a_resumed_path(
    folder, tmp_path
):
    out = tmp_path / "r.jsonl"
    audit(folder, out, analyzers=[*FAST, "ela"], extras=True, progress=False)
    entries = {Path(e.row.path).name: e for e in read_audit(out)}
    assert len(entries) == 7
    photo = entries["photo0.jpg"]
    # the sidecar keeps the whole Report: evidence and details the row does not carry
    report = photo.report
    assert photo.extras is not None and report.verdict is not None
    assert report.verdict.label.value == photo.row.verdict
    assert report.finding("jpeg").details["quality"]["estimate"] > 0
    ela = report.finding("ela")
    assert ela.heatmaps and ela.heatmaps[0].data is None and ela.heatmaps[0].shape
    assert AuditRow.from_report(report).to_dict() == photo.row.to_dict()
    # a file that is not an image has no pictures, and says why in words
    notes = entries["notes.txt"]
    assert notes.extras.thumbnail is None and "not a recognised image" in notes.report.error
    assert notes.row.label == "error" and "not a recognised image" in notes.row.top_reason
    # without the sidecar, a row's Report is what the row itself knows
    bare = next(e for e in read_audit(out, with_extras=False) if e.row.path == photo.row.path)
    assert bare.extras is None and bare.report.verdict.reasons == list(photo.row.reasons)
    assert [f.analyzer for f in bare.report.findings] == [*FAST, "ela"]
    # a path written twice (a resumed audit) is read once, with its last word
    lines = out.read_text().splitlines()
    again = json.loads(lines[0])
    again["reasons"] = ["written again"]
    with out.open("a") as fh:
        fh.write(json.dumps(again) + "\n{half a line")
    rows = [e.row for e in read_audit(out)]
    assert len(rows) == 7 and rows[-1].reasons == ("written again",)
    assert write_csv(out, tmp_path / "r.csv") == 7
