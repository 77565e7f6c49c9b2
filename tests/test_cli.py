"""The `pixelsleuth` command as a user runs it."""

from __future__ import annotations

import json

from .conftest import corpus_dir, jpeg_bytes, photo_like
from .test_bad_input import run_cli


def _generator_files():
    return sorted(corpus_dir("ai", "generator-metadata").iterdir())


def test_analyze_prints_a_readable_summary():
    path = next(p for p in _generator_files() if p.name.endswith("automatic1111_cropped.png"))
    proc = run_cli("analyze", str(path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert path.name in out
    assert "generator-metadata" in out and "AUTOMATIC1111" in out
    assert "realistic_realisticVisionV20_v20" in out


def test_json_is_one_object_for_one_path_and_one_line_each_for_several():
    paths = _generator_files()[:3]
    one = run_cli("analyze", "--json", str(paths[0]))
    report = json.loads(one.stdout)
    assert report["schema_version"] == "1.0"
    assert report["file"]["path"] == str(paths[0])
    assert {f["analyzer"] for f in report["findings"]} >= {"metadata", "generator-metadata"}
    several = run_cli("analyze", "--json", *map(str, paths))
    lines = several.stdout.strip().splitlines()
    assert len(lines) == 3
    assert [json.loads(ln)["file"]["path"] for ln in lines] == [str(p) for p in paths]


def test_exit_code_is_nonzero_only_when_a_file_could_not_be_analysed(tmp_path):
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes(photo_like()))
    assert run_cli("analyze", str(good)).returncode == 0
    proc = run_cli("analyze", "--json", str(good), str(tmp_path / "missing.jpg"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"pixelsleuth: {tmp_path / 'missing.jpg'}: no such file"
    assert len(proc.stdout.strip().splitlines()) == 2  # the good result is not lost


def test_analyzer_selection_and_listing(tmp_path):
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes(photo_like()))
    proc = run_cli("analyze", "--json", "--analyzers", "metadata", str(good))
    assert [f["analyzer"] for f in json.loads(proc.stdout)["findings"]] == ["metadata"]
    bad = run_cli("analyze", "--analyzers", "nope", str(good))
    assert bad.returncode == 2 and "unknown analyzer(s): nope" in bad.stderr
    listing = run_cli("analyzers")
    assert "provenance" in listing.stdout and "Content Credentials" in listing.stdout


def test_maps_says_where_the_heatmaps_went(tmp_path):
    image = tmp_path / "photo.jpg"
    image.write_bytes(jpeg_bytes(photo_like(256, 256)))
    maps = tmp_path / "maps"
    proc = run_cli("analyze", "--analyzers", "ela,noise", "--maps", str(maps), str(image))
    assert proc.returncode == 0, proc.stderr
    written = sorted(maps.glob("*.png"))
    assert written  # the maps are there ...
    assert f"{len(written)} heatmap(s) written to {maps.resolve()}" in proc.stderr  # ... and said
    none = run_cli("analyze", "--analyzers", "metadata", "--maps", str(tmp_path / "m2"), str(image))
    assert "no heatmaps to write" in none.stderr


def test_help_names_values_in_words_not_python_types():
    for command in ("analyze", "audit", "train", "generate", "eval", "fit-verdict", "app"):
        proc = run_cli(command, "--help")
        assert proc.returncode == 0, proc.stderr
        assert "<" not in proc.stdout and "list[" not in proc.stdout, (command, proc.stdout)
    analyze = run_cli("analyze", "--help").stdout
    assert "PATHS..." in analyze and "--max-pixels" in analyze and "INTEGER" in analyze


def test_quickstart_samples_are_real_images_and_it_says_how_to_get_pixelsleuth_on_path():
    """The samples quickstart.sh analyses, as its own lines pick them from the corpus: every
    one a full image (the 1×1 parser stubs made the noise analyzer fail), and the script
    ends by saying how to run `pixelsleuth` from ./.venv."""
    import subprocess
    from pathlib import Path

    from PIL import Image

    corpus = corpus_dir()
    script = (Path(__file__).parents[1] / "scripts" / "quickstart.sh").read_text()
    picks = "\n".join(
        ln for ln in script.splitlines() if ln.strip().startswith("samples+=(") and "$corpus" in ln
    )
    listing = subprocess.run(
        ["bash", "-c", f'corpus="{corpus}"; samples=()\n{picks}\nprintf "%s\\n" "${{samples[@]}}"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(listing) == 3
    for path in listing:
        with Image.open(path) as im:
            assert min(im.size) >= 256, (path, im.size)
    assert any("/ai/" in p for p in listing) and any("/real/" in p for p in listing)
    assert "source .venv/bin/activate" in script


def test_cli_messages_are_in_words_without_exception_class_names(tmp_path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("this is not an image")
    proc = run_cli("analyze", "--analyzers", "metadata,integrity", str(notes))
    assert proc.returncode == 1
    assert f"pixelsleuth: {notes}: not a recognised image" in proc.stderr
    assert "Error" not in proc.stderr and "Error" not in proc.stdout, proc.stderr + proc.stdout
