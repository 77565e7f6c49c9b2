"""Seconds of each pixel analyzer, this checkout's against an older one's, interleaved.

    git archive <commit> pixelsleuth | tar -x -C /tmp/before
    python bench/bench_before_after.py /tmp/before [FILES…] [--repeat 2]

On a shared machine the load changes from minute to minute, so two recordings made at
different times cannot be compared. Here the older analyzer modules (read from BEFORE's
``pixelsleuth/forensics``, their shared helpers taken from this checkout) and the current
ones run one after the other on the same decoded image, file by file, best of --repeat; the
totals are therefore measured under the same load. Default files: every third camera photo
of the corpus (those of at most 4 MP) and its 22 MP photo. Prints the totals and, with
--json, writes them.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyzers import best
from golden_findings import corpus_dir, selected_files

from pixelsleuth.analyzers import create_analyzers
from pixelsleuth.imageio import load_image

MODULES = {
    "jpeg": "jpeg",
    "ela": "ela",
    "ghost": "ghost",
    "noise": "noise",
    "copy-move": "copymove",
    "spectrum": "spectrum",
}


def older_analyzer(before: Path, name: str):
    """An instance of the older checkout's analyzer ``name``, without registering it."""
    module = MODULES[name]
    source = (before / "pixelsleuth/forensics" / f"{module}.py").read_text()
    mod = types.ModuleType(f"before_{module}")
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    exec(compile(source.replace("@register\n", ""), f"before/{module}.py", "exec"), mod.__dict__)
    cls = next(
        v for v in vars(mod).values() if isinstance(v, type) and getattr(v, "name", None) == name
    )
    return cls()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    corpus = corpus_dir(None)
    files = args.files or [p for p in selected_files(corpus) if p.parent.name == "camera"] + [
        corpus / "real/camera/drewnoakes+metadata-extractor-images__jpg__Issue 266.jpg"
    ]
    current = {a.name: a for a in create_analyzers(list(MODULES))}
    older = {name: older_analyzer(args.before, name) for name in MODULES}
    totals = {name: {"before_s": 0.0, "after_s": 0.0} for name in MODULES}
    for path in files:
        image = load_image(path)
        image.rgb(), image.gray()
        for name in MODULES:
            # each on its own copy of the image, so that neither reuses the other's memo
            for label, analyzer in (("before_s", older[name]), ("after_s", current[name])):
                fresh = load_image(path)
                fresh._memo.update({k: image._memo[k] for k in ("rgb", "gray")})
                totals[name][label] += best(lambda a=analyzer, f=fresh: a.analyze(f), args.repeat)
        print(path.name, {k: round(v["after_s"], 2) for k, v in totals.items()}, flush=True)
    for name, t in totals.items():
        t["before_s"], t["after_s"] = round(t["before_s"], 2), round(t["after_s"], 2)
        t["after_over_before"] = round(t["after_s"] / max(t["before_s"], 1e-9), 3)
        print(f"{name:<10} before {t['before_s']:7.2f} s  after {t['after_s']:7.2f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"files": [p.name for p in files], "totals": totals}, indent=1)
        )


if __name__ == "__main__":
    main()
