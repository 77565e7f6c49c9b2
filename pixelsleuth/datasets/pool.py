"""`pixelsleuth datasets build-pool`: the detector's training pool, rebuilt from local copies of
the public sources listed in ``training-sources.csv`` (git snapshots or clones at the listed
commits, extracted Debian packages) and from folders of photos.

The pool is a folder that reads both as a corpus (``manifest.csv``, same columns as the test
corpus's plus ``family``, ``licence`` and ``split``) and as a Hugging Face imagefolder dataset
(``metadata.jsonl``, ``file_name`` relative to the pool root)::

    POOL/real/<source>/<file>        bytes exactly as in the source (never re-encoded)
    POOL/ai/<family>/<source>/<file>
    POOL/manifest.csv  POOL/metadata.jsonl  POOL/DATA_CARD.md  POOL/data_card.json

Exact and near duplicates are dropped against the corpus and across sources: the same bytes,
the same decoded pixels, or the same picture at another size (a 64-bit difference hash, compared
exactly). Each source is capped so that no content type (food, clothing, buildings, one
cheat-sheet's portraits) dominates its class; within a source the images kept are a
deterministic hash-ordered sample. Splits follow :func:`pixelsleuth.datasets.samples.split_of`
on the path relative to the pool root, like the corpus.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
import re
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from pixelsleuth.datasets.samples import MIN_SIDE, split_of

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
MAX_PIXELS = 60_000_000  # larger sources are wallpapers of at most ~30 MP; refuse bombs
MANIFEST_COLUMNS = [
    "path", "label", "group", "generator", "camera", "format", "width", "height", "bytes",
    "sha256", "mask", "source", "family", "licence", "split",
]  # fmt: skip


@dataclass(frozen=True)
class PoolSource:
    """One source of the pool and how to select its images.

    ``repo`` is ``owner/name`` for a git source or ``debian:PACKAGE``; ``include`` are fnmatch
    patterns on the path inside it; ``exclude`` are case-insensitive substrings that drop a path
    (graphics, non-photographs, downscaled duplicates). ``family`` is the generator family of
    an AI source ("" for real); ``family_of`` overrides it per path when one source mixes
    families. ``history``: take image blobs from every commit (a repository that deleted its
    photographs later)."""

    name: str
    repo: str
    label: str  # "ai" or "real"
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    family: str = ""
    generator: str = ""
    cap: int | None = None
    history: bool = False
    kind: str = "photo"  # for real images: phone, camera, wallpaper, benchmark, photo
    family_of: Callable[[str, GitTree], tuple[str, str]] | None = None


def _horde_family(path: str, tree: GitTree) -> tuple[str, str]:
    """(family, generator) of an AI-Horde-Styles preview, from the model its style names in
    styles.json (preview files are "<style>_<person|place|thing>.webp")."""
    styles = tree.json("styles.json")
    by_key = {re.sub(r"[^a-z0-9]+", "_", k.lower()): v for k, v in styles.items()}
    stem = re.sub(r"_(person|place|thing)$", "", Path(path).stem.lower())
    model = str((by_key.get(stem) or {}).get("model", ""))
    if not model:
        return "", ""
    low = model.lower()
    if "xl" in low.split() or "sdxl" in low or low.endswith(" xl") or "xl " in low:
        return "sdxl", model
    if "stable_diffusion_2" in low:
        return "sd2", model
    if "flux" in low:
        return "flux.1", model
    return "sd1.x", model


CHEATSHEET_SDXL = tuple(
    f"images/{d}/768/*"
    for d in ("female", "male", "hair-makeup", "hair-beard", "movies-f", "movies-m")
)

SOURCES: tuple[PoolSource, ...] = (
    # real photographs: the scarce class; only the narrow sets are capped
    PoolSource("imagenet-samples", "EliSchwartz/imagenet-sample-images", "real", ("*.JPEG",),
               ("web_site", "comic_book", "crossword", "menu", "book_jacket"), kind="photo"),
    PoolSource("bsds500", "Sisso16/ssn_pytorch", "real", ("BSR/BSDS500/data/images/*/*.jpg",),
               kind="benchmark"),
    PoolSource("urban100-sunhays80", "majedelhelou/denoising_datasets", "real",
               ("CUrban100/*", "CSun_Hays80/*"), kind="benchmark"),
    PoolSource("elementary-wallpapers", "elementary/wallpapers", "real",
               ("*.jpg", "*.jpeg", "*.JPG", "*.JPEG", "*.png"),
               ("low poly", "mesh gradient", "luna-prerelease", "reborn.png", "artcast"),
               history=True, kind="wallpaper"),
    PoolSource("zero-dce-lowlight", "Li-Chongyi/Zero-DCE", "real",
               ("*/test_data/DICM/*", "*/test_data/LIME/*"), kind="camera"),
    PoolSource("deep-photo-style", "luanfujun/deep-photo-styletransfer", "real",
               ("examples/input/*", "examples/style/*"), kind="photo"),
    PoolSource("sfm-buildings", "openMVG/SfM_quality_evaluation", "real", ("*.jpg", "*.JPG"),
               cap=60, kind="camera"),
    PoolSource("live1", "jiaxi-jiang/FBCNN", "real", ("testsets/LIVE1_color/*",),
               kind="benchmark"),
    PoolSource("ffdnet-testsets", "cszn/FFDNet", "real", ("testsets/*",), kind="benchmark"),
    PoolSource("ecustfd-food", "Liang-yc/ECUSTFD-resized-", "real", ("*.jpg", "*.JPG"),
               cap=300, kind="phone"),
    PoolSource("clothing", "alexeygrigorev/clothing-dataset", "real", ("images/*",), cap=300,
               kind="phone"),
    PoolSource("lomiri-16.04", "debian:lomiri-wallpapers-16.04", "real",
               ("usr/share/backgrounds/*.jpg",), ("analogpattern",), kind="wallpaper"),
    PoolSource("lomiri-20.04", "debian:lomiri-wallpapers-20.04", "real",
               ("usr/share/backgrounds/*.jpg",), ("fossa",), kind="wallpaper"),
    PoolSource("mate-nature", "debian:mate-backgrounds", "real",
               ("usr/share/backgrounds/mate/nature/*.jpg",), kind="wallpaper"),
    PoolSource("plasma-photos", "debian:plasma-workspace-wallpapers", "real", tuple(
        f"usr/share/wallpapers/{w}/contents/images/2560x1600.jpg" for w in (
            "Autumn", "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow",
            "FallenLeaf", "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")),
        kind="wallpaper"),
    # AI-generated: plentiful, capped per source
    PoolSource("cheatsheet-flux", "andygock/stable-diffusion-style-cheatsheet", "ai",
               ("images/*-flux1dev/768/*",), family="flux.1", generator="flux.1-dev", cap=600),
    PoolSource("cheatsheet-sdxl", "andygock/stable-diffusion-style-cheatsheet", "ai",
               CHEATSHEET_SDXL, family="sdxl", generator="RealVisXL V3 Turbo", cap=600),
    PoolSource("flux-cheatsheet", "andygock/FLUX-Style-CheatSheet", "ai", ("img/flux/*",),
               family="flux.1", generator="flux.1-dev", cap=600),
    PoolSource("ai-horde-styles", "amiantos/AI-Horde-Styles", "ai",
               ("preview_generator/images/*",), cap=600, family_of=_horde_family),
)  # fmt: skip


@dataclass(frozen=True)
class Listed:
    """A source's row in training-sources.csv: what may be used, at which commit, licence."""

    repo: str
    commit: str
    licence: str


def read_listed(csv_path: str | Path) -> dict[str, Listed]:
    """The sources of training-sources.csv by repository (``owner/name``, ``debian:NAME``)."""
    out: dict[str, Listed] = {}
    with Path(csv_path).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            repo = row["repo_or_package"].strip()
            out.setdefault(repo, Listed(repo, row["commit"].strip(), row["licence"].strip()))
    return out


class GitTree:
    """Read-only access to one commit (or the whole history) of a bare or normal git
    directory, through one long-lived ``git cat-file --batch``."""

    def __init__(self, git_dir: Path, commit: str, history: bool = False) -> None:
        self.git_dir, self.commit, self.history = git_dir, commit, history
        self._proc: subprocess.Popen[bytes] | None = None
        self._json: dict[str, dict] = {}

    def _git(self, *args: str) -> bytes:
        return subprocess.run(
            ["git", f"--git-dir={self.git_dir}", *args], capture_output=True, check=True
        ).stdout

    def entries(self) -> list[tuple[str, str]]:
        """(path, blob sha) of every file; with ``history``, of every blob ever reachable
        (a path may then appear with several blobs)."""
        if self.history:
            out = []
            raw = self._git("rev-list", "--objects", "--all", "--missing=allow-any")
            for line in raw.decode("utf-8", "replace").splitlines():
                sha, _, path = line.partition(" ")
                if path:
                    out.append((path, sha))
            return sorted(set(out))
        out = []
        for item in self._git("ls-tree", "-r", "-z", self.commit).split(b"\0"):
            if not item:
                continue
            meta, _, path = item.partition(b"\t")
            _mode, kind, sha = meta.decode().split()
            if kind == "blob":
                out.append((path.decode("utf-8", "replace"), sha))
        return out

    def blob(self, sha: str) -> bytes | None:
        """A blob's bytes, or None when the snapshot lacks it (large files are dropped)."""
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", f"--git-dir={self.git_dir}", "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(sha.encode() + b"\n")
        self._proc.stdin.flush()
        header = self._proc.stdout.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            return None
        data = self._proc.stdout.read(int(header[2]))
        self._proc.stdout.read(1)
        return data

    def json(self, path: str) -> dict:
        """A JSON file of the commit (cached)."""
        if path not in self._json:
            self._json[path] = json.loads(self._git("show", f"{self.commit}:{path}"))
        return self._json[path]

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.stdin:
                self._proc.stdin.close()
            self._proc.wait()
            self._proc = None


def find_git_dir(snapshots: Path, repo: str) -> Path | None:
    """A snapshot (``owner+name/repo``, ``owner+name``) or a clone (``name/.git``,
    ``owner/name/.git``) of ``repo`` under ``snapshots``."""
    owner, name = repo.split("/", 1)
    for cand in (
        snapshots / f"{owner}+{name}" / "repo",
        snapshots / f"{owner}+{name}",
        snapshots / name / ".git",
        snapshots / owner / name / ".git",
        snapshots / name,
    ):
        if (cand / "HEAD").is_file() and (cand / "objects").is_dir():
            return cand
    return None


def find_debian_root(snapshots: Path, package: str) -> Path | None:
    """An extracted Debian package (``dpkg -x PACKAGE.deb DIR``) under ``snapshots`` as
    ``debian/PACKAGE`` or ``PACKAGE``; a ``PACKAGE_*.deb`` found there is extracted first."""
    for base in (snapshots / "debian", snapshots):
        root = base / package
        if (root / "usr").is_dir():
            return root
        debs = sorted(base.glob(f"{package}_*.deb"))
        if debs:
            root.mkdir(parents=True, exist_ok=True)
            subprocess.run(["dpkg", "-x", str(debs[-1]), str(root)], check=True)
            return root
    return None


def _order(key: str) -> bytes:
    # a deterministic but content-independent order, so a cap samples the whole source
    return hashlib.sha256(b"pool:" + key.encode()).digest()


def _matches(path: str, source: PoolSource) -> bool:
    low = path.lower()
    if not low.endswith(IMAGE_SUFFIXES):
        return False
    if any(x.lower() in low for x in source.exclude):
        return False
    return any(fnmatch.fnmatchcase(path, pat) for pat in source.include)


@dataclass
class Candidate:
    origin: str  # where it came from: repo@commit:path, debian:pkg:path or a file path
    path: str  # path inside the source (file names are derived from it)
    read: Callable[[], bytes | None]
    family: str = ""
    generator: str = ""


def _candidates(
    source: PoolSource, listed: Listed, snapshots: Path
) -> tuple[list[Candidate], Callable[[], None]]:
    """The source's selected images (not yet read), in sampling order, and a closer."""
    if source.repo.startswith("debian:"):
        package = source.repo.split(":", 1)[1]
        root = find_debian_root(snapshots, package)
        if root is None:
            raise FileNotFoundError(
                f"{source.repo}: no extracted package under {snapshots} "
                f"(apt-get download {package}; "
                f"dpkg -x {package}_*.deb {snapshots}/debian/{package})"
            )
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        cands = [
            Candidate(f"{source.repo}:{rel}", rel, (lambda p=root / rel: p.read_bytes()),
                      source.family, source.generator)
            for rel in files if _matches(rel, source)
        ]  # fmt: skip
        return sorted(cands, key=lambda c: _order(c.origin)), lambda: None
    git_dir = find_git_dir(snapshots, source.repo)
    if git_dir is None:
        raise FileNotFoundError(
            f"{source.repo}: no snapshot or clone under {snapshots} "
            f"(git clone https://github.com/{source.repo} && git checkout {listed.commit})"
        )
    tree = GitTree(git_dir, listed.commit, source.history)
    cands = []
    for path, sha in tree.entries():
        if not _matches(path, source):
            continue
        family, generator = source.family, source.generator
        if source.family_of is not None:
            family, generator = source.family_of(path, tree)
            if not family:
                continue  # a style whose model is unknown: no family to hold out
        where = "history" if source.history else listed.commit[:12]
        cands.append(
            Candidate(f"{source.repo}@{where}:{path}#{sha[:12]}", path,
                      (lambda s=sha: tree.blob(s)), family, generator)
        )  # fmt: skip
    return sorted(cands, key=lambda c: _order(c.origin)), tree.close


def pixel_keys(data: bytes) -> tuple[str, str, int, int, str] | str:
    """(pixel sha256, 64-bit difference hash, width, height, format) of an image, or a
    reason it cannot be used. The difference hash is None-like ("") for near-flat images,
    whose hashes would collide without being the same picture."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_PIXELS:
                return f"{im.width}×{im.height} is over the pool's pixel limit"
            fmt = im.format or "?"
            rgb = im.convert("RGB")
    except Exception as exc:  # decoders raise many types (the JPEG XL plugin a RuntimeError)
        return f"undecodable ({type(exc).__name__})"
    w, h = rgb.size
    if min(w, h) < MIN_SIDE:
        return f"too small ({w}×{h})"
    arr = np.asarray(rgb)
    pixel = hashlib.sha256(f"{w}x{h}".encode() + arr.tobytes()).hexdigest()
    small = np.asarray(rgb.convert("L").resize((9, 8), Image.Resampling.BILINEAR), np.int16)
    if small.std() < 2.0:
        dhash = ""
    else:
        bits = (small[:, 1:] > small[:, :-1]).flatten()
        dhash = f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"
    return pixel, dhash, w, h, fmt


@dataclass
class Seen:
    """Keys of everything kept so far (and of the corpus): bytes, pixels, difference hash."""

    bytes_: dict[str, str] = field(default_factory=dict)
    pixels: dict[str, str] = field(default_factory=dict)
    dhash: dict[str, str] = field(default_factory=dict)

    def duplicate_of(self, sha: str, pixel: str, dhash: str) -> str | None:
        return (
            self.bytes_.get(sha)
            or self.pixels.get(pixel)
            or (self.dhash.get(dhash) if dhash else None)
        )

    def add(self, who: str, sha: str, pixel: str, dhash: str) -> None:
        self.bytes_.setdefault(sha, who)
        self.pixels.setdefault(pixel, who)
        if dhash:
            self.dhash.setdefault(dhash, who)


def seen_from_corpus(manifest: Path) -> Seen:
    """Duplicate keys of every image file of a corpus manifest."""
    seen = Seen()
    with manifest.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            path = manifest.parent / row["path"]
            try:
                data = path.read_bytes()
            except OSError:
                continue
            keys = pixel_keys(data)
            sha = hashlib.sha256(data).hexdigest()
            if isinstance(keys, str):
                seen.bytes_.setdefault(sha, f"corpus:{row['path']}")
                continue
            seen.add(f"corpus:{row['path']}", sha, keys[0], keys[1])
    return seen


def _slug(text: str, n: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:n] or "img"


EXTENSIONS = {
    "JPEG": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "BMP": "bmp",
    "TIFF": "tif",
    "MPO": "jpg",
}


@dataclass
class PoolReport:
    kept: Counter = field(default_factory=Counter)  # per source
    duplicates: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    missing_sources: list[str] = field(default_factory=list)


def _photo_folder_candidates(folder: Path) -> list[Candidate]:
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    return sorted(
        (
            Candidate(str(p), str(p.relative_to(folder)), (lambda p=p: p.read_bytes()))
            for p in files
        ),
        key=lambda c: _order(c.origin),
    )


# Over 80 lines: one pass per source whose per-file steps (read, key, de-duplicate, write,
# record) update that source's counters together; split up, they would pass six values around.
def build_pool(
    sources_csv: str | Path,
    snapshots: str | Path,
    out: str | Path,
    corpus_manifest: str | Path | None = None,
    photo_folders: tuple[Path, ...] = (),
    cap: int | None = None,
    only: tuple[str, ...] = (),
    progress: Callable[[str], None] = print,
) -> PoolReport:
    """Build (or complete) the pool at ``out``; returns what was kept and dropped per source.

    ``cap`` overrides every source's own cap; ``only`` limits the build to the named
    sources (real first, then AI, is the order of :data:`SOURCES`). Sources never listed in
    ``sources_csv`` are skipped; a listed source without a local copy is reported, not fatal.
    Source files are only read. The manifest is rewritten after each source, so the real
    photos are usable while the AI sources are still being added."""
    out, snapshots = Path(out), Path(snapshots)
    listed = read_listed(sources_csv)
    out.mkdir(parents=True, exist_ok=True)
    seen = seen_from_corpus(Path(corpus_manifest)) if corpus_manifest else Seen()
    report = PoolReport()
    rows: list[dict[str, str]] = []
    plans: list[tuple[PoolSource, Listed]] = []
    for source in SOURCES:
        if only and source.name not in only:
            continue
        if source.repo not in listed:
            report.missing_sources.append(f"{source.name}: {source.repo} is not in {sources_csv}")
            continue
        plans.append((source, listed[source.repo]))
    for folder in photo_folders:
        name = f"photos-{_slug(Path(folder).name, 24)}"
        plans.append(
            (PoolSource(name, str(folder), "real", ("*",)), Listed(str(folder), "", "own photos"))
        )

    for source, lst in plans:
        try:
            if source.repo == lst.repo and Path(source.repo).is_dir():
                cands, close = _photo_folder_candidates(Path(source.repo)), (lambda: None)
            else:
                cands, close = _candidates(source, lst, snapshots)
        except (FileNotFoundError, subprocess.CalledProcessError) as exc:
            report.missing_sources.append(f"{source.name}: {exc}")
            progress(f"{source.name}: skipped ({exc})")
            continue
        limit = cap if cap is not None else source.cap
        try:
            for cand in cands:
                if limit is not None and report.kept[source.name] >= limit:
                    break
                data = cand.read()
                if data is None:
                    report.rejected[source.name] += 1
                    continue
                keys = pixel_keys(data)
                if isinstance(keys, str):
                    report.rejected[source.name] += 1
                    continue
                pixel, dhash, w, h, fmt = keys
                sha = hashlib.sha256(data).hexdigest()
                if seen.duplicate_of(sha, pixel, dhash):
                    report.duplicates[source.name] += 1
                    continue
                ext = EXTENSIONS.get(fmt, Path(cand.path).suffix.lstrip(".").lower() or "img")
                name = f"{source.name}-{_slug(Path(cand.path).stem)}-{sha[:12]}.{ext}"
                folder = (
                    Path("real") / source.name
                    if source.label == "real"
                    else Path("ai") / cand.family / source.name
                )
                rel = (folder / name).as_posix()
                group = source.name if source.label == "real" else f"{cand.family}/{source.name}"
                target = out / rel
                if not target.is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                seen.add(rel, sha, pixel, dhash)
                report.kept[source.name] += 1
                rows.append({
                    "path": rel, "label": source.label,
                    "group": group,
                    "generator": cand.generator, "camera": "", "format": fmt,
                    "width": str(w), "height": str(h), "bytes": str(len(data)), "sha256": sha,
                    "mask": "", "source": cand.origin, "family": cand.family or source.kind,
                    "licence": lst.licence, "split": split_of(rel),
                })  # fmt: skip
        finally:
            close()
        progress(
            f"{source.name}: kept {report.kept[source.name]}, duplicates "
            f"{report.duplicates[source.name]}, unusable {report.rejected[source.name]}"
        )
        write_manifests(out, rows)
    write_data_card(out, rows, report)
    return report


def write_manifests(out: Path, rows: list[dict[str, str]]) -> None:
    """manifest.csv (corpus columns) and metadata.jsonl (imagefolder), replaced atomically."""
    tmp = out / "manifest.csv.tmp"
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out / "manifest.csv")
    tmp = out / "metadata.jsonl.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({
                "file_name": r["path"], "label": r["label"], "generator": r["generator"],
                "family": r["family"], "source": r["group"].split("/")[-1], "origin": r["source"],
                "licence": r["licence"], "split": r["split"], "width": int(r["width"]),
                "height": int(r["height"]), "format": r["format"],
            }, ensure_ascii=False) + "\n")  # fmt: skip
    tmp.replace(out / "metadata.jsonl")


def iter_rows(pool: Path) -> Iterator[dict[str, str]]:
    with (pool / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def write_data_card(out: Path, rows: list[dict[str, str]], report: PoolReport) -> dict:
    """DATA_CARD.md and data_card.json: counts per class, family, source and split, what was
    dropped as a duplicate or unusable, and the licences."""
    card: dict = {
        "images": len(rows),
        "per_class": dict(Counter(r["label"] for r in rows)),
        "per_family": dict(Counter(f"{r['label']}/{r['family']}" for r in rows)),
        "per_split": dict(Counter(f"{r['label']}/{r['split']}" for r in rows)),
        "sources": {},
        "missing_sources": report.missing_sources,
    }
    for name in dict.fromkeys(r["group"].split("/")[-1] for r in rows):
        mine = [r for r in rows if r["group"].split("/")[-1] == name]
        card["sources"][name] = {
            "label": mine[0]["label"],
            "families": dict(Counter(r["family"] for r in mine)),
            "kept": len(mine),
            "duplicates_dropped": report.duplicates[name],
            "unusable": report.rejected[name],
            "licence": mine[0]["licence"],
            "origin": mine[0]["source"].split(":")[0],
            "per_split": dict(Counter(r["split"] for r in mine)),
            "formats": dict(Counter(r["format"] for r in mine)),
            "median_side": int(np.median([min(int(r["width"]), int(r["height"])) for r in mine])),
        }
    (out / "data_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Training pool data card",
        "",
        f"{card['images']} images: " + ", ".join(f"{v} {k}" for k, v in card["per_class"].items()),
        "",
        "| source | class | families | kept | duplicates | unusable | formats "
        "| median short side | licence | from |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in card["sources"].items():
        fams = ", ".join(f"{k} {v}" for k, v in s["families"].items())
        fmts = ", ".join(f"{k} {v}" for k, v in s["formats"].items())
        lines.append(
            f"| {name} | {s['label']} | {fams} | {s['kept']} | {s['duplicates_dropped']} | "
            f"{s['unusable']} | {fmts} | {s['median_side']} | {s['licence']} | {s['origin']} |"
        )
    lines += ["", "| class/family | images |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(card["per_family"].items())]
    lines += ["", "| class/split | images |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(card["per_split"].items())]
    if report.missing_sources:
        lines += ["", "Not included:", *[f"- {m}" for m in report.missing_sources]]
    (out / "DATA_CARD.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return card
