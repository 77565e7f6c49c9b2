"""`pixelsleuth audit`: analyse every file under a folder and stream one JSONL row per file.

Rows are written and flushed as results arrive, so a killed run loses at most the files in
flight; ``resume=True`` drops a half-written last line and skips every path already written.
Files are analysed in worker processes with a bounded number in flight (memory does not grow
with the folder); a worker that crashes is replaced, and a file that crashes a worker twice
gets an error row instead of stopping the audit. Inputs are only ever opened for reading.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pixelsleuth.audit_results import AuditRow, RowExtras, extras_path
from pixelsleuth.settings import Settings


def iter_files(root: str | Path, errors: list[tuple[str, str]] | None = None) -> Iterator[Path]:
    """Every regular file under ``root`` (sorted, recursive). Symbolic links to folders are
    followed once per real folder, so link loops end; unreadable folders are reported in
    ``errors`` and skipped."""
    root = Path(root)
    if root.is_file():
        yield root
        return
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError as exc:
            if errors is not None:
                errors.append((str(folder), f"cannot read the folder ({exc.strerror or exc})"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue  # a symlink loop, or a folder reached twice
        seen.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            if errors is not None:
                errors.append((str(folder), f"cannot list the folder ({exc.strerror or exc})"))
            continue
        subdirs = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=True):
                    subdirs.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=True):
                    yield Path(entry.path)
                # sockets, FIFOs and devices are not files to audit
            except OSError:
                if errors is not None:
                    errors.append((entry.path, "broken link or unreadable entry"))
        stack.extend(reversed(subdirs))


@dataclass(frozen=True)
class AuditOptions:
    """How each file is analysed; the same for every backend."""

    analyzers: tuple[str, ...] | None = None
    stability: bool = True
    extras: bool = False  # thumbnails, heatmaps and metadata for the HTML report
    profile: str = "full"  # see pixelsleuth.analyzers.PROFILES
    settings: Settings = field(default_factory=Settings)  # limits, weights, trust anchors


@functools.cache
def _analyzers_for(names: tuple[str, ...] | None, profile: str, settings: Settings) -> list[Any]:
    """The analyzer instances of one worker process, created once (with the profile's
    options) rather than for every file."""
    from pixelsleuth.analyzers import create_analyzers

    return create_analyzers(names, profile, settings)


def analyse_path(path: str, options: AuditOptions) -> tuple[AuditRow, RowExtras | None]:
    """The per-image function every backend runs: one row, and its extras when asked.
    Never raises for bad input: problems are recorded in the row."""
    from pixelsleuth.analyze import analyze_image
    from pixelsleuth.imageio import ImageInputError, load_image

    try:
        try:
            image = load_image(path, options.settings.limits)
        except ImageInputError as exc:
            return AuditRow.failed(path, str(exc)), None
        instances = _analyzers_for(options.analyzers, options.profile, options.settings)
        report = analyze_image(
            image, instances, stability=options.stability, settings=options.settings
        )
        extras = None
        if options.extras:
            try:
                rgb = image.rgb() if report.error is None else None
            except Exception:
                rgb = None
            extras = RowExtras.from_report(report, rgb)
        return AuditRow.from_report(report), extras
    except Exception as exc:  # a bug must not lose the row
        message = f"internal error: {type(exc).__name__}: {str(exc)[:200]}"
        return AuditRow.failed(path, message), None


def _cut_partial_line(path: Path) -> bytes:
    """The file's complete lines; a half-written last line (a killed run) is cut off."""
    if not path.is_file():
        return b""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as fh:
            fh.truncate(end)
    return data[:end]


def read_done(out: Path) -> set[str]:
    """Paths already in ``out``, after cutting off a half-written last line."""
    done = set()
    for line in _cut_partial_line(out).splitlines():
        try:
            done.add(json.loads(line)["path"])
        except (ValueError, KeyError, TypeError):
            continue
    return done


@dataclass
class AuditSummary:
    written: int = 0
    skipped: int = 0
    errors: int = 0


# Over 80 lines: checks, resume bookkeeping and three backends share the emit/skip closures,
# which must see the open results and sidecar files.
def audit(
    root: str | Path,
    out: str | Path,
    workers: int = 1,
    resume: bool = False,
    analyzers: Sequence[str] | None = None,
    progress: bool = True,
    stability: bool = True,
    extras: bool = False,
    backend: str = "local",
    ray_address: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    profile: str = "full",
    settings: Settings | None = None,
) -> AuditSummary:
    """Audit every file under ``root`` into the JSONL file ``out`` (and, with ``extras``,
    the HTML report's sidecar :func:`extras_path`). ``backend`` is "local" (worker
    processes on this machine) or "ray" (a Ray cluster at ``ray_address`` or RAY_ADDRESS,
    else a local Ray instance with ``workers`` CPUs); both run :func:`analyse_path`.
    ``on_progress(done, total)`` is called after every file (the app's progress bar).
    ``settings`` (default: the environment's) travel to every worker."""
    root, out = Path(root), Path(out)
    if backend not in ("local", "ray"):
        raise ValueError(f"unknown backend {backend!r}; use local or ray")
    if not root.exists():
        raise FileNotFoundError(f"no such file or folder: {root}")
    if out.exists() and not resume:
        raise FileExistsError(f"{out} exists: pass --resume to continue it, or remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    from pixelsleuth.analyzers import get_profile

    get_profile(profile)  # KeyError for an unknown one, before any work
    options = AuditOptions(
        tuple(analyzers) if analyzers else None,
        stability,
        extras,
        profile,
        settings or Settings.from_env(),
    )
    done = read_done(out) if resume else set()
    side = extras_path(out)
    if extras and resume:
        _cut_partial_line(side)
    folder_errors: list[tuple[str, str]] = []
    total = sum(1 for _ in iter_files(root))  # a counting pass: no list of paths is kept
    summary = AuditSummary()
    bar = tqdm(total=total, desc="audit", unit="file", disable=not progress)
    with ExitStack() as stack:
        fh = stack.enter_context(out.open("a", encoding="utf-8"))
        side_fh = stack.enter_context(side.open("a", encoding="utf-8")) if extras else None

        def emit(result: tuple[AuditRow, RowExtras | None]) -> None:
            row, extra = result
            if side_fh is not None and extra is not None:
                # the sidecar first: a row in the results is then never without its extras
                side_fh.write(json.dumps(extra.to_dict(), ensure_ascii=False) + "\n")
                side_fh.flush()
            fh.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
            fh.flush()  # a killed run keeps every row written so far
            summary.written += 1
            summary.errors += row.error is not None
            tick()

        def skip() -> None:
            summary.skipped += 1
            tick()

        def tick() -> None:
            bar.update(1)
            if on_progress is not None:  # counted here: a disabled tqdm bar does not count
                on_progress(summary.written + summary.skipped, total)

        pending = _not_done((str(p) for p in iter_files(root, folder_errors)), done, skip)
        if backend == "ray":
            _run_ray(pending, workers, options, emit, ray_address)
        elif workers <= 1:
            for path in pending:
                emit(analyse_path(path, options))
        else:
            _run_pool(pending, workers, options, emit)
        for path, message in folder_errors:
            if path not in done:
                emit((AuditRow.failed(path, message), None))
    bar.close()
    return summary


def failed(path: str, message: str) -> tuple[AuditRow, None]:
    return AuditRow.failed(path, message), None


def _not_done(paths: Iterator[str], done: set[str], skip: Callable[[], None]) -> Iterator[str]:
    """The paths still to analyse; each one already in the results is counted as skipped."""
    for path in paths:
        if path in done:
            skip()
        else:
            yield path


def _run_pool(paths, workers, options, emit) -> None:
    ctx = get_context("spawn")  # torch and fork do not mix
    attempts: dict[str, int] = {}
    retry: list[str] = []
    in_flight: dict[Future, str] = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    source = iter(paths)
    exhausted = False
    try:
        while True:
            while not exhausted and len(in_flight) + len(retry) < 4 * workers:
                path = next(source, None)
                if path is None:
                    exhausted = True
                else:
                    retry.append(path)
            while retry and len(in_flight) < 4 * workers:
                path = retry.pop()
                in_flight[pool.submit(analyse_path, path, options)] = path
            if not in_flight:
                break
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                path = in_flight.pop(future)
                try:
                    emit(future.result())
                except BrokenProcessPool:
                    broken = True
                    attempts[path] = attempts.get(path, 0) + 1
                    if attempts[path] >= 2:
                        emit(failed(path, "analysing this file crashed the worker process"))
                    else:
                        retry.append(path)
            if broken:  # every future of a broken pool fails: resubmit them to a new one
                for path in in_flight.values():
                    attempts[path] = attempts.get(path, 0) + 1
                    retry.append(path)
                in_flight.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(paths, workers, options, emit, address: str | None) -> None:
    """The same per-image function as Ray tasks, a bounded number in flight. On a cluster
    every node must see the same paths (a shared file system) and have pixelsleuth
    installed; a task whose worker dies is retried once by Ray, then gets an error row."""
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("the ray backend needs Ray: pip install 'pixelsleuth[ray]'") from exc
    address = address or os.environ.get("RAY_ADDRESS")
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
        ray.init(
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
            **kwargs,
        )
        started = True
    task = ray.remote(num_cpus=1, max_retries=1)(analyse_path)
    limit = 4 * max(1, workers if not address else int(ray.cluster_resources().get("CPU", 1)))
    in_flight: dict[Any, str] = {}
    try:
        source = iter(paths)
        exhausted = False
        while True:
            while not exhausted and len(in_flight) < limit:
                path = next(source, None)
                if path is None:
                    exhausted = True
                else:
                    in_flight[task.remote(path, options)] = path
            if not in_flight:
                break
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                path = in_flight.pop(ref)
                try:
                    emit(ray.get(ref))
                except Exception as exc:  # the worker died twice (ray.exceptions.*)
                    emit(failed(path, f"analysing this file failed on Ray: {type(exc).__name__}"))
    finally:
        if started:
            ray.shutdown()


def extract_zip(
    data: bytes, dest: str | Path, max_files: int = 20_000, max_bytes: int = 4 * 2**30
) -> int:
    """Unpack an uploaded zip into ``dest`` safely: no paths outside it, no links, and
    limits on the number of files and on the bytes actually written (a zip bomb stops at
    the limit). Returns the number of files written; raises ValueError for a bad archive."""
    import io
    import zipfile

    dest = Path(dest).resolve()
    written = total = 0
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ValueError(f"not a zip archive ({exc})") from exc
    with archive:
        for info in archive.infolist():
            if info.is_dir() or (info.external_attr >> 16) & 0o170000 == 0o120000:
                continue  # folders are made as needed; symbolic links are never followed
            target = (dest / info.filename).resolve()
            if not target.is_relative_to(dest):
                raise ValueError(f"unsafe path in the zip: {info.filename!r}")
            if written >= max_files:
                raise ValueError(f"the zip holds more than {max_files} files")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, target.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        total += len(chunk)
                        if total > max_bytes:
                            raise ValueError(f"the zip unpacks to more than {max_bytes} bytes")
                        dst.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise ValueError(f"damaged zip member {info.filename!r}: {exc}") from exc
            written += 1
    return written
