"""The analyzer contract and its registry.

An analyzer is a class with a ``name`` and an ``analyze(image) -> Finding`` method, registered
with :func:`register`. A new analyzer is one file in ``pixelsleuth/forensics/`` (or
``pixelsleuth/detectors/``) plus a line in :data:`BUILTIN`; third-party packages register
theirs through the ``pixelsleuth.analyzers`` entry-point group.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, ClassVar

from pixelsleuth.imageio import LoadedImage
from pixelsleuth.report import Finding
from pixelsleuth.settings import Settings

log = logging.getLogger(__name__)


class Analyzer(ABC):
    """One forensic method. Subclasses set the class attributes and implement :meth:`analyze`.

    ``analyze`` may raise :class:`pixelsleuth.imageio.ImageInputError` (for instance when the
    pixels cannot be decoded); the runner turns that into an error finding. It must never write
    to the input and must finish in bounded time on any input.
    """

    name: ClassVar[str]
    title: ClassVar[str]  # shown as a section heading
    #: one sentence: what this evidence means, and what it cannot prove
    explains: ClassVar[str]
    #: the pixels must decode for this analyzer to say anything
    needs_pixels: ClassVar[bool] = True
    #: part of the default set that `analyze` and `audit` run
    default: ClassVar[bool] = True
    #: position in reports: metadata first, pixel analyses next, file checks last
    order: ClassVar[int] = 50

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Analyzer:
        """An instance configured by ``settings`` and a profile's ``options``; an analyzer
        with something to configure (trust anchors, weights) overrides this."""
        return cls(**options)

    def preload(self) -> None:
        """Load what the first ``analyze`` would load (weights, say), so that it costs
        nothing later; most analyzers have nothing to load."""
        return None

    @abstractmethod
    def analyze(self, image: LoadedImage) -> Finding: ...


_REGISTRY: dict[str, type[Analyzer]] = {}
_plugins_loaded = False

# Built-in analyzers: name → the module that registers it. Modules are imported when an
# analyzer is first asked for, so that `--analyzers metadata` does not pay for importing
# torch, OpenCV and SciPy (about half a second, more than the metadata of a hundred files).
BUILTIN = {
    "metadata": "pixelsleuth.forensics.metadata",
    "thumbnail": "pixelsleuth.forensics.thumbnail",
    "generator-metadata": "pixelsleuth.forensics.generator_metadata",
    "provenance": "pixelsleuth.forensics.provenance",
    "jpeg": "pixelsleuth.forensics.jpeg",
    "ela": "pixelsleuth.forensics.ela",
    "ghost": "pixelsleuth.forensics.ghost",
    "noise": "pixelsleuth.forensics.noise",
    "copy-move": "pixelsleuth.forensics.copymove",
    "spectrum": "pixelsleuth.forensics.spectrum",
    "detector": "pixelsleuth.detectors.analyzer",
    "integrity": "pixelsleuth.forensics.integrity",
}


@dataclass(frozen=True)
class Profile:
    """A named set of analyzers for one kind of run. ``analyzers`` None means every default
    analyzer; ``options`` are keyword arguments for an analyzer's constructor, by name;
    ``stability`` is whether the verdict is checked on perturbed copies by default."""

    name: str
    description: str
    analyzers: tuple[str, ...] | None = None
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    stability: bool = True


PROFILES: dict[str, Profile] = {
    "full": Profile(
        "full",
        "every default analyzer, and the verdict checked on recompressed and rescaled copies",
    ),
    # What a file says about itself, its JPEG tables and the detector: no pixel forensics and
    # no stability copies, for a first pass over a large folder.
    "triage": Profile(
        "triage",
        "metadata, generator metadata, provenance, JPEG tables and the detector only, "
        "without the stability check: a first pass over large folders",
        ("metadata", "generator-metadata", "provenance", "jpeg", "detector"),
        {"jpeg": {"double_compression": False}},
        stability=False,
    ),
}
DEFAULT_PROFILE = "full"


def get_profile(name: str) -> Profile:
    """The profile called ``name``; KeyError (with the choices) for an unknown one."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; available: {', '.join(PROFILES)}") from None


def register(cls: type[Analyzer]) -> type[Analyzer]:
    """Class decorator: make an analyzer available under ``cls.name``."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"an analyzer named {name!r} is already registered")
    _REGISTRY[name] = cls
    return cls


def _ensure_loaded() -> None:
    global _plugins_loaded
    for module in BUILTIN.values():  # the built-in analyzers register themselves on import
        importlib.import_module(module)
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in metadata.entry_points(group="pixelsleuth.analyzers"):
        try:
            register(ep.load())
        except Exception as exc:  # a broken plugin must not break the tool
            log.warning("could not load analyzer plugin %s: %s", ep.name, exc)


def _load(names: list[str]) -> dict[str, type[Analyzer]]:
    """The registry with ``names`` in it if they exist: only their modules when all are built
    in, everything (plugins included) otherwise."""
    for n in names:
        if n not in _REGISTRY and n in BUILTIN:
            importlib.import_module(BUILTIN[n])
    return _REGISTRY if all(n in _REGISTRY for n in names) else available_analyzers()


def available_analyzers() -> dict[str, type[Analyzer]]:
    """All registered analyzers by name, in report order."""
    _ensure_loaded()
    return dict(sorted(_REGISTRY.items(), key=lambda item: (item[1].order, item[0])))


def default_analyzer_names() -> list[str]:
    return [name for name, cls in available_analyzers().items() if cls.default]


def create_analyzers(
    names: Iterable[str] | None = None,
    profile: str = DEFAULT_PROFILE,
    settings: Settings | None = None,
) -> list[Analyzer]:
    """Instantiate the named analyzers (the profile's set when ``names`` is None), with the
    profile's options for each, configured by ``settings`` (default: the environment's)."""
    chosen = get_profile(profile)
    if names is not None:
        wanted = list(names)
    elif chosen.analyzers is not None:
        wanted = list(chosen.analyzers)
    else:
        wanted = default_analyzer_names()
    registry = _load(wanted)
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise KeyError(
            f"unknown analyzer(s): {', '.join(unknown)}; "
            f"available: {', '.join(available_analyzers())}"
        )
    if settings is None:
        settings = Settings.from_env()
    return [registry[n].from_settings(settings, **chosen.options.get(n, {})) for n in wanted]
