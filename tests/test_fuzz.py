"""A small deterministic slice of the fuzz harness (bench/fuzz.py): mutated corpus and
generated files through every default analyzer in worker processes, with no traceback, hang,
internal error, exception name in a message, changed input, stray stderr or leftover file."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from .conftest import CORPUS, ROOT, corpus_dir

SLICE = 60


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("fuzz", ROOT / "bench" / "fuzz.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_mutants_are_the_same_bytes_every_time():
    corpus_dir("metadata", "exiftool-samples")
    fuzz = _fuzz_module()
    seeds = {**fuzz.corpus_seeds(CORPUS, 20_000), **fuzz.generated_seeds()}
    names = sorted(seeds)
    first = [fuzz.make_mutant(i, 7, seeds, names) for i in range(200)]
    again = [fuzz.make_mutant(i, 7, seeds, names) for i in range(200)]
    assert [m.data for m in first] == [m.data for m in again]
    assert {m.mutation for m in first} >= set(fuzz.MUTATIONS)  # every mutation is drawn
    assert sum(m.data != seeds.get(m.seed_name) for m in first) >= 190  # they do mutate


def test_a_slice_of_the_fuzz_campaign_finds_no_failure(tmp_path):
    corpus_dir("metadata", "exiftool-samples")
    out = tmp_path / "fuzz.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "fuzz.py"),
            *("--count", str(SLICE), "--seed", "7", "--workers", "2", "--timeout", "60"),
            *("--max-seed-bytes", "20000", "--cameras", "0", "--no-stability"),
            *("--corpus", str(CORPUS), "--out", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = json.loads(out.read_text())
    assert summary["files"] == SLICE, proc.stderr
    assert all(v == 0 for v in summary["checks"].values()), summary["failures"]
    assert proc.returncode == 0
    # the slice reaches every kind of outcome: whole images, damaged ones and refusals
    assert summary["outcomes"].get("analysed", 0) > 0
    assert summary["outcomes"].get("partial", 0) + summary["outcomes"].get("refused", 0) > 0
    assert summary["peak_rss_mb_per_process"]["max"] > 0


def test_every_pixel_layout_and_metadata_block_gets_an_answer(tmp_path):
    """The harness's generated seeds, unmutated: 1×1 and 8×8, palette, 1-bit, 16-bit, CMYK,
    alpha, animated GIF/WebP, TIFF, BMP, and a JPEG with every metadata block."""
    from pixelsleuth.analyze import analyze_file

    seeds = _fuzz_module().generated_seeds()
    assert len(seeds) >= 20
    for name, data in seeds.items():
        path = tmp_path / name
        path.write_bytes(data)
        report = analyze_file(path, stability=False)
        assert report.error is None, (name, report.error)
        assert [(f.analyzer, f.error) for f in report.findings if f.error] == [], name
        assert all(f.summary for f in report.findings), name
        assert not report.file.partial, name
