"""Installed size of pixelsleuth's base install and of each extra, from an environment.

    python bench/bench_install.py [--json OUT]

Walks the dependency closure of pixelsleuth's requirements as this checkout's
pyproject.toml declares them (base, and with the ``dev`` and ``ray`` extras) through the
installed distributions' metadata and adds up the sizes of the files each one
installed (its RECORD), so the numbers are what pip put on disk for these versions, without
a second download. The largest distributions are listed, with the CUDA libraries (``nvidia-*``)
that the default PyPI build of PyTorch brings and PyTorch's CPU build does not.
"""

from __future__ import annotations

import argparse
import json
import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distribution_size(dist: metadata.Distribution) -> int:
    """Bytes of the files a distribution installed (its RECORD); 0 when unknown."""
    total = 0
    for f in dist.files or []:
        try:
            total += Path(dist.locate_file(f)).stat().st_size
        except OSError:
            continue
    return total


def requirements(dist: metadata.Distribution, extras: set[str]) -> list[str]:
    """Names of what ``dist`` requires with ``extras`` (markers other than extras are
    evaluated for this interpreter)."""
    from packaging.requirements import Requirement

    out = []
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is not None:
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if not any(req.marker.evaluate(env) for env in envs):
                continue
        out.append(canonical(req.name))
    return out


def declared(extras: set[str]) -> list[tuple[str, set[str]]]:
    """(name, its extras) of what pyproject.toml asks for with ``extras``."""
    from packaging.requirements import Requirement

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project.get("optional-dependencies", {}).get(extra, [])
    return [(canonical(r.name), set(r.extras)) for r in map(Requirement, lines)]


def closure(extras: set[str]) -> dict[str, int]:
    """Installed size by distribution of pixelsleuth's requirements with ``extras`` and of
    everything they pull in."""
    sizes: dict[str, int] = {}
    todo = declared(extras)
    seen: set[str] = set()
    while todo:
        name, want = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed here (a platform-specific dependency)
        sizes[name] = distribution_size(dist)
        todo.extend((r, set()) for r in requirements(dist, want))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for label, extras in (("base", set()), ("ray", {"ray"}), ("dev", {"dev"})):
        sizes = closure(extras)
        cuda = sum(v for k, v in sizes.items() if k.startswith("nvidia-") or k == "triton")
        total = sum(sizes.values())
        top = sorted(sizes.items(), key=lambda kv: -kv[1])[:20]
        results[label] = {
            "distributions": len(sizes),
            "total_mb": round(total / 2**20),
            "cuda_libraries_mb": round(cuda / 2**20),
            "without_cuda_libraries_mb": round((total - cuda) / 2**20),
            "largest_mb": {k: round(v / 2**20) for k, v in top},
        }
        print(
            f"{label:>5}: {len(sizes)} distributions, {total / 2**30:.2f} GiB, of which CUDA "
            f"libraries (nvidia-*, triton) {cuda / 2**30:.2f} GiB; largest: "
            + ", ".join(f"{k} {v / 2**20:.0f} MB" for k, v in top[:5])
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
