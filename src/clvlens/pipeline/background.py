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
    """Run ``work()`` on a thread from :meth:`start`; :meth:`result` waits for it and returns its value or raises
    its error. Used for a stage that needs nothing the stages before it produce (the scorecard), so that it fills
    the core the model fits leave idle. A task whose result is never asked for (the run failed) ends on its own."""

    def __init__(self, work: Callable[[], Any], name: str) -> None:
        self._work = work
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"clvlens-{name}", daemon=True)

    def start(self) -> BackgroundTask:
        """Start the work; returns self."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # re-raised on the run's thread by result()
            self._error = exc

    def result(self) -> Any:
        """The work's value, once it is done (its error is raised instead)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
