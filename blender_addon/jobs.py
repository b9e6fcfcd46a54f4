"""A generation running on a worker thread, polled from the main thread by a modal timer."""
from __future__ import annotations

import threading
from typing import Callable

from .bridge import Cancelled
from .generation import Progress


class Job:
    """Runs `work(progress, cancel)` on a thread; the main thread reads `fraction`, `message`, `done`."""

    def __init__(self, work: Callable[[Progress, threading.Event], object]):
        self.work = work
        self.cancel_event = threading.Event()
        self.fraction = 0.0
        self.message = "starting"
        self.result = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="mouthpiece-generate", daemon=True)

    def start(self) -> "Job":
        self.thread.start()
        return self

    @property
    def done(self) -> bool:
        return not self.thread.is_alive() and self.thread.ident is not None

    @property
    def cancelled(self) -> bool:
        return isinstance(self.error, Cancelled)

    def cancel(self) -> None:
        self.cancel_event.set()

    def progress(self, fraction: float, message: str) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()
        self.fraction = min(max(float(fraction), 0.0), 1.0)
        self.message = message

    def _run(self) -> None:
        try:
            self.result = self.work(self.progress, self.cancel_event)
        except BaseException as err:  # handed to the main thread, which reports it
            self.error = err


def run_now(work: Callable[[Progress, threading.Event], object], progress: Progress | None = None):
    """The same work synchronously, for background mode and scripts."""
    return work(progress or (lambda fraction, message: None), threading.Event())
