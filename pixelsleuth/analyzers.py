"""The analyzer contract and its registry.

An analyzer is a class with a ``name`` and an ``analyze(image) -> Finding`` method, registered
with :func:`register`. A new analyzer is one file in ``pixelsleuth/forensics/`` (or
``pixelsleuth/detectors/``) plus an import in that package's ``__init__``; third-party packages
register theirs through the ``pixelsleuth.analyzers`` entry-point group.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from importlib import metadata
from typing import ClassVar

from pixelsleuth.imageio import LoadedImage
from pixelsleuth.report import Finding

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

    @abstractmethod
    def analyze(self, image: LoadedImage) -> Finding: ...


_REGISTRY: dict[str, type[Analyzer]] = {}
_plugins_loaded = False


def register(cls: type[Analyzer]) -> type[Analyzer]:
    """Class decorator: make an analyzer available under ``cls.name``."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"an analyzer named {name!r} is already registered")
    _REGISTRY[name] = cls
    return cls


def _ensure_loaded() -> None:
    global _plugins_loaded
    # the built-in analyzers register themselves on import
    import pixelsleuth.detectors
    import pixelsleuth.forensics  # noqa: F401

    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in metadata.entry_points(group="pixelsleuth.analyzers"):
        try:
            register(ep.load())
        except Exception as exc:  # a broken plugin must not break the tool
            log.warning("could not load analyzer plugin %s: %s", ep.name, exc)


def available_analyzers() -> dict[str, type[Analyzer]]:
    """All registered analyzers by name, in report order."""
    _ensure_loaded()
    return dict(sorted(_REGISTRY.items(), key=lambda item: (item[1].order, item[0])))


def default_analyzer_names() -> list[str]:
    return [name for name, cls in available_analyzers().items() if cls.default]


def create_analyzers(names: Iterable[str] | None = None) -> list[Analyzer]:
    """Instantiate the named analyzers (the default set when ``names`` is None)."""
    registry = available_analyzers()
    wanted = list(names) if names is not None else default_analyzer_names()
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise KeyError(
            f"unknown analyzer(s): {', '.join(unknown)}; available: {', '.join(registry)}"
        )
    return [registry[n]() for n in wanted]
