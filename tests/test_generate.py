"""`pixelsleuth generate` and `datasets add-real` with tiny pipelines built and saved here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pixelsleuth.analyze import analyze_file
from pixelsleuth.cli import app

from .conftest import CORPUS, file_state, jpeg_bytes, photo_like
from .tiny_diffusers import build_lora, build_sd, build_sdxl

TAEF2 = CORPUS.parent / "models" / "taef2"
runner = CliRunner()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "sd": build_sd(root / "sd"),
        "sdxl": build_sdxl(root / "sdxl"),
        "lcm": build_sd(root / "lcm", lcm=True),
        "lora": build_lora(root / "lora", root / "sd"),
    }


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i, (h, w) in enumerate([(96, 128), (120, 96), (64, 64)]):
        (folder / f"photo{i}.jpg").write_bytes(jpeg_bytes(photo_like(h, w, seed=i)))
    return folder


def cli(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def tiny_t2i(model: Path, out: Path, *extra: object, count: int = 3) -> str:
    """A quick text-to-image run of a tiny pipeline: 64×64, 2 steps."""
    return cli(
        "generate",
        "--model",
        model,
        "--out",
        out,
        "--count",
        count,
        "--steps",
        2,
        "--width",
        64,
        "--height",
        64,
        *extra,
    )


def rows(out: Path) -> dict[str, dict]:
    found = {}
    for split in ("train", "validation", "test"):
        manifest = out / split / "metadata.jsonl"
        if manifest.is_file():
            for line in manifest.read_text().splitlines():
                row = json.loads(line)
                found[f"{split}/{row['file_name']}"] = row
    return found


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


PIPELINES = {  # name -> (pipeline class, scheduler class, guidance)
    "sd": ("StableDiffusionPipeline", "DDIMScheduler", "5.0"),
    "sdxl": ("StableDiffusionXLPipeline", "EulerDiscreteScheduler", "5.0"),
    "lcm": ("LatentConsistencyModelPipeline", "LCMScheduler", "1.0"),
}


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_text_to_image_rows_determinism_and_resume(models, tmp_path, name):
    pipeline, scheduler, guidance = PIPELINES[name]
    out = tmp_path / "ds"
    args = [
        "generate",
        "--model",
        models[name],
        "--out",
        out,
        "--count",
        "5",
        "--steps",
        "2",
        "--guidance",
        guidance,
        "--width",
        "64",
        "--height",
        "48",
        "--seed",
        "7",
        "--batch-size",
        "2",
    ]
    cli(*args)
    found = rows(out)
    assert len(found) == 5
    for key, row in found.items():
        path = out / key
        with Image.open(path) as im:
            assert im.size == (64, 48) and im.format == "PNG"
        assert row["label"] == "ai" and row["source"] == "text-to-image"
        assert row["generator"] == {
            "model_id": str(models[name]),
            "pipeline": pipeline,
            "scheduler": scheduler,
        }
        assert (row["steps"], row["guidance"], row["width"], row["height"]) == (
            2,
            float(guidance),
            64,
            48,
        )
        assert 7 <= row["seed"] < 12 and row["prompt"] and row["format"] == "PNG"
        assert row["provenance_metadata"] is True
    # the same seeds in another folder give the same pixels
    other = tmp_path / "again"
    cli(*[a if a != out else other for a in args])
    for key in found:
        assert np.array_equal(pixels(out / key), pixels(other / key)), key
    # delete two outputs: a re-run regenerates exactly those, identically
    victims = sorted(found)[:2]
    before = {k: pixels(out / k) for k in victims}
    kept = {k: file_state(out / k) for k in found if k not in victims}
    for k in victims:
        (out / k).unlink()
    text = cli(*args)
    assert "wrote 2 images (3 already there)" in text
    for k in victims:
        assert np.array_equal(pixels(out / k), before[k])
    assert {k: file_state(out / k) for k in kept} == kept  # untouched
    assert len(rows(out)) == 5  # the manifest holds one row per file


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_image_to_image_mode(models, photos, tmp_path, name):
    out = tmp_path / "ds"
    cli(
        "generate",
        "--mode",
        "image-to-image",
        "--model",
        models[name],
        "--guidance",
        PIPELINES[name][2],
        "--images",
        photos,
        "--out",
        out,
        "--count",
        "0",
        "--steps",
        "4",
        "--strength",
        "0.5",
        "--format",
        "jpeg",
        "--quality",
        "90",
    )
    found = rows(out)
    assert len(found) == 3
    sizes = {Image.open(p).size for p in photos.iterdir()}
    for key, row in found.items():
        assert row["source"] == "image-to-image" and row["strength"] == 0.5
        with Image.open(out / key) as im:
            assert im.format == "JPEG" and im.size in sizes
        assert Path(row["extra"]["source_image"]).parent == photos


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_aligned_mode_with_a_pipeline_vae(models, photos, tmp_path, name):
    out = tmp_path / "ds"
    text = cli(
        "generate",
        "--mode",
        "aligned",
        "--model",
        models[name],
        "--images",
        photos,
        "--out",
        out,
        "--count",
        "0",
        "--format",
        "webp",
        "--quality",
        "90",
        "--no-provenance",
    )
    assert "3 real twins" in text and "PSNR" in text
    found = rows(out)
    fakes = {k: r for k, r in found.items() if r["label"] == "ai"}
    assert len(fakes) == 3 and len(found) == 6
    for key, row in fakes.items():
        twin = out / row["real_twin"]
        assert found[row["real_twin"]]["label"] == "real"
        assert key.split("/")[0] == row["real_twin"].split("/")[0]  # same split
        with Image.open(out / key) as fake, Image.open(twin) as real:
            assert fake.size == real.size and fake.format == real.format == "WEBP"
            assert "xmp" not in fake.info and not fake.getexif()  # provenance off
        assert row["generator"]["pipeline"] == "AutoencoderKL"


def test_lcm_lora_on_the_tiny_sd_pipeline(models, tmp_path):
    base = [
        "generate",
        "--model",
        models["sd"],
        "--count",
        "2",
        "--steps",
        "4",
        "--guidance",
        "1.0",
        "--width",
        "64",
        "--height",
        "64",
        "--seed",
        "3",
    ]
    cli(*base, "--out", tmp_path / "lora", "--lora", models["lora"], "--scheduler", "lcm")
    cli(*base, "--out", tmp_path / "plain")
    with_lora = rows(tmp_path / "lora")
    assert {r["generator"]["scheduler"] for r in with_lora.values()} == {"LCMScheduler"}
    assert {r["steps"] for r in with_lora.values()} == {4}
    key = sorted(with_lora)[0]
    assert not np.array_equal(pixels(tmp_path / "lora" / key), pixels(tmp_path / "plain" / key))


def test_provenance_metadata_is_read_back_as_ai(models, tmp_path):
    out = tmp_path / "ds"
    tiny_t2i(models["sd"], out, "--format", "jpeg", count=1)
    (key,) = rows(out)
    report = analyze_file(out / key, ["provenance"])
    assert report.findings[0].details["iptc_digital_source_type"] == "trainedAlgorithmicMedia"


def test_holdout_split_and_clear_errors(models, photos, tmp_path):
    out = tmp_path / "ds"
    cli(
        "generate",
        "--model",
        models["lcm"],
        "--out",
        out,
        "--count",
        "4",
        "--steps",
        "2",
        "--guidance",
        "1",
        "--width",
        "64",
        "--height",
        "64",
        "--holdout-split",
        "test",
    )
    assert {k.split("/")[0] for k in rows(out)} == {"test"}
    for args, message in [
        (["--model", tmp_path / "missing"], "no such model folder"),
        (["--model", photos], "not a diffusers pipeline folder"),
        (["--mode", "aligned", "--autoencoder", models["sd"]], "needs --images"),
        (["--model", models["sd"], "--format", "gif"], "unknown format"),
    ]:
        result = runner.invoke(app, ["generate", "--out", str(out), *map(str, args)])
        assert result.exit_code == 2 and message in result.output, result.output


def test_add_real_never_touches_originals_and_resumes(photos, tmp_path):
    (tmp_path / "in").mkdir()
    for p in photos.iterdir():
        shutil.copy(p, tmp_path / "in" / p.name)
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    before = {p: file_state(p) for p in (tmp_path / "in").iterdir()}
    out = tmp_path / "ds"
    text = cli("datasets", "add-real", tmp_path / "in", "--out", out)
    assert "added 3 real images" in text and "1 unreadable" in text
    text = cli("datasets", "add-real", tmp_path / "in", "--out", out, "--format", "keep")
    assert "added 0 real images (3 already there" in text
    assert {p: file_state(p) for p in (tmp_path / "in").iterdir()} == before
    found = rows(out)
    assert len(found) == 3 and {r["label"] for r in found.values()} == {"real"}
    for key, row in found.items():  # "keep" copies the bytes as they were
        assert (out / key).read_bytes() == Path(row["original_path"]).read_bytes()


def test_hugging_face_imagefolder_reads_the_dataset(models, tmp_path):
    datasets = pytest.importorskip("datasets", reason="the `datasets` library is optional")
    out = tmp_path / "ds"
    tiny_t2i(models["sd"], out, count=3)
    loaded = datasets.load_dataset("imagefolder", data_dir=str(out))
    assert sum(len(split) for split in loaded.values()) == 3


@pytest.mark.skipif(
    not (TAEF2 / "taef2_encoder.pth").is_file(),
    reason="the taef2 weights are absent (expected at ../shared/models/taef2)",
)
def test_aligned_fakes_with_taef2_on_camera_photos(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    names = ["Canon PowerShot S330.jpg", "Nikon E5000.jpg", "Pentax Optio 330.jpg"]
    for path in sorted((CORPUS / "real" / "camera").glob("*.jpg")):
        if any(path.name.endswith(n) for n in names):
            img = Image.open(path).convert("RGB").resize((1024, 768), Image.Resampling.LANCZOS)
            img.save(src / f"{path.stem[-20:]}.png")
    out = tmp_path / "ds"
    text = cli(
        "generate",
        "--mode",
        "aligned",
        "--autoencoder",
        TAEF2,
        "--images",
        src,
        "--out",
        out,
        "--count",
        "0",
        "--no-provenance",
    )
    found = rows(out)
    fakes = [r for r in found.values() if r["label"] == "ai"]
    assert len(fakes) == 2 or len(fakes) == 3
    psnrs = []
    for row in fakes:
        twin = found[row["real_twin"]]
        assert (row["width"], row["height"]) == (twin["width"], twin["height"]) == (1024, 768)
        split = row["real_twin"].split("/")[0]
        fake_px = pixels(out / split / row["file_name"])
        psnrs.append(
            10
            * np.log10(
                255**2 / np.mean((fake_px.astype(float) - pixels(out / row["real_twin"])) ** 2)
            )
        )
    print(
        f"\ntaef2 round trip on 1024×768 camera photos: PSNR {[round(p, 2) for p in psnrs]} dB "
        f"({text.strip().splitlines()[-1]})"
    )
    assert min(psnrs) >= 30.0  # a wrong layer gives < 27 dB


def test_prompt_file_and_aligned_with_low_strength(models, photos, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# comment\na red car at night\n\na dog in the snow\n")
    out = tmp_path / "ds"
    tiny_t2i(models["sd"], out, "--prompts", prompts, count=3)
    assert sorted(r["prompt"] for r in rows(out).values()) == [
        "a dog in the snow",
        "a red car at night",
        "a red car at night",
    ]
    out2 = tmp_path / "aligned"
    cli(
        "generate",
        "--mode",
        "aligned",
        "--model",
        models["sd"],
        "--images",
        photos,
        "--out",
        out2,
        "--count",
        "2",
        "--aligned-strength",
        "0.3",
        "--steps",
        "4",
    )
    fakes = [r for r in rows(out2).values() if r["label"] == "ai"]
    assert len(fakes) == 2 and {r["strength"] for r in fakes} == {0.3}
    assert all(r["prompt"] and r["real_twin"] for r in fakes)


def test_unreadable_photos_are_skipped_not_fatal(models, photos, tmp_path):
    src = tmp_path / "in"
    shutil.copytree(photos, src)
    (src / "zz-broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path / "ds"
    result = runner.invoke(
        app,
        [
            "generate",
            "--mode",
            "aligned",
            "--model",
            str(models["sd"]),
            "--images",
            str(src),
            "--out",
            str(out),
            "--count",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "zz-broken.jpg: skipped" in result.output
    assert len([r for r in rows(out).values() if r["label"] == "ai"]) == 3


def test_autoencoder_tiny_and_tiny_autoencoder_round_trip(photos, tmp_path):
    import torch
    from diffusers import AutoencoderTiny

    from pixelsleuth.datasets.autoencoders import TinyAutoencoder, load_autoencoder

    torch.manual_seed(0)
    AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8)
    ).save_pretrained(tmp_path / "tiny")
    out = tmp_path / "ds"
    cli(
        "generate",
        "--mode",
        "aligned",
        "--autoencoder",
        tmp_path / "tiny",
        "--images",
        photos,
        "--out",
        out,
        "--count",
        "1",
    )
    (fake,) = [r for r in rows(out).values() if r["label"] == "ai"]
    assert fake["generator"]["pipeline"] == "AutoencoderTiny"
    # the project's own model round-trips through save_pretrained / from_pretrained
    model = TinyAutoencoder(latent_channels=4, channels=16, mid_blocks=True)
    model.save_pretrained(tmp_path / "mine")
    assert (tmp_path / "mine" / "diffusion_pytorch_model.safetensors").is_file()
    loaded = load_autoencoder(tmp_path / "mine")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), loaded(x))


def test_build_pool_drops_duplicates_caps_sources_and_writes_a_data_card(tmp_path):
    """A listed git source (a repository made here, read at its listed commit) and a folder of
    photos: the same bytes, the same pixels in another format, a resized copy and a corpus file
    are each kept once; rows carry label, family, licence and the hash split of their path."""
    import csv
    import subprocess

    from pixelsleuth.datasets.samples import corpus_split, load_samples

    # the smallest camera photos: quick to decode
    camera = sorted((CORPUS / "real" / "camera").glob("*.jpg"), key=lambda p: p.stat().st_size)
    camera = [p for p in camera if min(Image.open(p).size) >= 200]
    if len(camera) < 6:
        pytest.skip("the corpus's camera photos are absent")
    repo = tmp_path / "snapshots" / "FFDNet"
    (repo / "testsets").mkdir(parents=True)
    photos = [Image.open(p).convert("RGB") for p in camera[:4]]
    for i, im in enumerate(photos[:3]):
        im.save(repo / "testsets" / f"t{i}.png")
    photos[0].save(repo / "testsets" / "same-pixels.bmp")  # t0's pixels in another format
    photos[1].resize((photos[1].width // 2, photos[1].height // 2)).save(
        repo / "testsets" / "half.png"
    )  # t1 resized: a near duplicate
    (repo / "notes.txt").write_text("not an image")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    (repo / "testsets" / "t2.png").unlink()  # the work tree is never read: the commit is
    sources = tmp_path / "sources.csv"
    sources.write_text(
        "repo_or_package,commit,path,label,generator,images,format,licence,notes\n"
        f"cszn/FFDNet,{commit.strip()},testsets/*,real,,5,PNG,test-licence,\n"
    )
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(camera[3], folder / "copy-of-t3.jpg")
    shutil.copy(camera[4], folder / "own.jpg")
    shutil.copy(camera[4], folder / "own-again.jpg")  # same bytes
    manifest = tmp_path / "corpus.csv"  # the corpus, reduced to one file: camera[3]
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "group", "width", "height"])
        writer.writerow([camera[3], "real", "camera", 0, 0])
    before = {p: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path / "pool"
    cli(
        "datasets", "build-pool", "--sources", sources, "--snapshots", tmp_path / "snapshots",
        "--out", out, "--corpus", manifest, "--photos", folder, "--only", "ffdnet-testsets",
    )  # fmt: skip
    assert {p: p.read_bytes() for p in folder.iterdir()} == before
    with (out / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_source = {r["group"]: [] for r in rows}
    for r in rows:
        by_source[r["group"]].append(r)
    assert len(by_source["ffdnet-testsets"]) == 3  # t0, t1, t2; not same-pixels, not half
    assert len(by_source["photos-photos"]) == 1  # own.jpg; its copy and the corpus file dropped
    assert all(r["split"] == corpus_split(r["path"]) for r in rows)
    assert {r["licence"] for r in by_source["ffdnet-testsets"]} == {"test-licence"}
    assert {r["family"] for r in by_source["ffdnet-testsets"]} == {"benchmark"}
    assert all((out / r["path"]).is_file() for r in rows)
    card = json.loads((out / "data_card.json").read_text())
    assert card["sources"]["ffdnet-testsets"]["duplicates_dropped"] == 2
    assert card["sources"]["photos-photos"]["duplicates_dropped"] == 2
    assert card["per_class"] == {"real": 4}
    assert len(load_samples(out)) == 4  # the pool reads as a corpus
