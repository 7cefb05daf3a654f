"""Work of a run that needs only what is already loaded, on a second thread while the run goes on.

The model fits mostly keep one core busy; the scorecard (which reads only the observed transactions) and the
seasonal index run beside them. Their results are taken where the run needs them, and their errors are raised
there, as if the work had run in line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class BackgroundTask:
    """Run ``work(stopping)`` on a thread from :meth:`start`; :meth:`result` waits for it and returns its value or
    raises its error. Used for a stage that needs nothing the stages before it produce (the scorecard), so that it
    fills the core the model fits leave idle. A run that fails calls :meth:`stop`: the work ends at its next check of
    ``stopping`` (the scorecard checks before each contender), so nothing keeps a core busy for a run that is over."""

    def __init__(self, work: Callable[[threading.Event], Any], name: str) -> None:
        self._work = work
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"clvlens-{name}", daemon=True)
        #: set by :meth:`stop`; ``work`` is called with it, to check where it can end early
        self.stopping = threading.Event()

    def start(self) -> BackgroundTask:
        """Start the work; returns self."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._value = self._work(self.stopping)
        except BaseException as exc:  # re-raised on the run's thread by result()
            self._error = exc

    def stop(self, *, wait: bool = True) -> None:
        """Ask the work to end early (it does at its next check of :attr:`stopping`) and, with ``wait``, wait for
        it to end."""
        self.stopping.set()
        if wait:
            self._thread.join()

    def join(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for the work to end; True once it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def result(self) -> Any:
        """The work's value, once it is done (its error is raised instead)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
