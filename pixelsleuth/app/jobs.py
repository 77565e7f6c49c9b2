"""Long work (an audit, a generation run) in a background thread, so the page stays live and
shows progress; the job keeps its result or its error for the page to show."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    """One background job: ``run(progress)`` is called in a thread, where ``progress(done,
    total)`` reports how far it got."""

    name: str
    run: Callable[[Callable[[int, int], None]], Any]
    done: int = 0
    total: int = 0
    result: Any = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Job:
        self._thread = threading.Thread(target=self._main, name=f"pixelsleuth-{self.name}")
        self._thread.daemon = True
        self._thread.start()
        return self

    def _main(self) -> None:
        try:
            self.result = self.run(self._progress)
        except Exception as exc:  # shown to the user as a message, never as a traceback
            # the message alone, in words: a class name means nothing to the reader
            self.error = str(exc).strip() or "an unexpected internal error (no message)"
            self.debug = traceback.format_exc()
        finally:
            self.finished = time.time()

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def status(self) -> str:
        elapsed = (self.finished or time.time()) - self.started
        text = f"{self.done}/{self.total or '?'} in {elapsed:.0f} s"
        if self.running and self.done and self.total:
            rate = self.done / max(elapsed, 1e-6)
            text += f" ({rate:.2f}/s, about {(self.total - self.done) / rate:.0f} s left)"
        return text

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (tests); True when it did."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running
