"""How LightGBM is imported: whole, or, in the command line's own process, without its scikit-learn interface.

LightGBM's compatibility layer imports scikit-learn when it is installed, for its ``LGBMRegressor``-style
estimators, and scikit-learn imports SciPy's statistics: about 0.6 s of CPU that a run pays at its start, when
Python's lock is the busiest. clvlens trains and predicts with LightGBM's own ``train`` and ``Booster`` and never
uses that interface, so the ``clvlens`` command asks (:func:`without_sklearn_interface`) for LightGBM to be imported
without it: scikit-learn is hidden from that one import, and LightGBM then sets its interface aside, as it does
where scikit-learn is not installed. A Python session that imports clvlens keeps LightGBM whole, since its own
code may use that interface, and scikit-learn itself stays importable either way.
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType

_lock = threading.Lock()
_without_sklearn = False


def without_sklearn_interface() -> None:
    """Import LightGBM without its scikit-learn interface from now on, unless it or scikit-learn is already
    imported (for the ``clvlens`` command's own process only: see the module docstring)."""
    global _without_sklearn
    _without_sklearn = True


def import_lightgbm() -> ModuleType:
    """The ``lightgbm`` module (ImportError when it is not installed)."""
    with _lock:  # one thread hides scikit-learn at a time, and never from another's import of LightGBM
        if _without_sklearn and "lightgbm" not in sys.modules and "sklearn" not in sys.modules:
            sys.modules["sklearn"] = None  # type: ignore[assignment]  # `import sklearn` raises ImportError
            try:
                import lightgbm
            finally:
                if "sklearn" in sys.modules and sys.modules["sklearn"] is None:
                    del sys.modules["sklearn"]
            return lightgbm
    import lightgbm

    return lightgbm
