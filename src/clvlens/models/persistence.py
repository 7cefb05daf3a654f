"""JSON persistence of fitted models (no pickle): class name, parameters, diagnostics, time unit, version and
a sha256 of the fitted data summary."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from clvlens.errors import ClvlensError
from clvlens.models._base import BaseModel, FitResult

__all__ = ["load_model", "model_from_dict", "model_to_dict"]

FORMAT_VERSION = 1


def _registry() -> dict[str, type[BaseModel]]:
    from clvlens.models import BetaGeo, BetaGeoBetaBinom, GammaGamma, ModifiedBetaGeo, ParetoNBD

    return {c.__name__: c for c in (BetaGeo, ModifiedBetaGeo, ParetoNBD, BetaGeoBetaBinom, GammaGamma)}


def _clean(obj: Any) -> Any:
    """Replace non-finite floats by None so the output is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def model_to_dict(model: BaseModel) -> dict[str, Any]:
    from clvlens import __version__

    model._check_fitted()
    result = getattr(model, "fit_result_", None)  # None for a model built with from_params
    return _clean({
        "format": FORMAT_VERSION,
        "model": type(model).__name__,
        "clvlens_version": __version__,
        "time_unit": model.time_unit,
        "penalizer_coef": model.penalizer_coef,
        "penalizer": getattr(model, "penalizer", "log"),
        "params": model.params_,
        "standard_errors": None if result is None else result.standard_errors,
        "fit_result": None if result is None else result.to_dict(),
        "n_customers": getattr(model, "n_customers_", None),
        "data_sha256": getattr(model, "data_hash_", None),
    })


def model_from_dict(d: dict[str, Any]) -> BaseModel:
    reg = _registry()
    name = d.get("model")
    if name not in reg:
        raise ClvlensError(f"model: {name!r} is not a clvlens model ({', '.join(reg)}); check the file")
    cls = reg[name]
    m = cls(time_unit=d.get("time_unit", "W"), penalizer_coef=d.get("penalizer_coef", 0.0),
            penalizer=d.get("penalizer", "log"))
    params = d.get("params") or {}
    missing = [k for k in cls._param_names if k not in params]
    if missing:
        raise ClvlensError(f"params: missing {', '.join(missing)} for {name}; the file is incomplete")
    if d.get("fit_result") is None:  # saved from a model built with from_params
        return cls.from_params({k: params[k] for k in cls._param_names}, time_unit=m.time_unit)
    m.params_ = {k: float(params[k]) for k in cls._param_names}
    m.fit_result_ = FitResult(**d["fit_result"])
    m.n_customers_ = int(d.get("n_customers", m.fit_result_.n_customers))
    m.data_hash_ = d.get("data_sha256", "")
    return m


def load_model(source: str | Path) -> BaseModel:
    """Load a model from a JSON string or a path to a JSON file written by ``model.to_json()``."""
    text = str(source)
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise ClvlensError(f"model file: {path} does not exist; pass a JSON string or an existing path")
        text = path.read_text(encoding="utf-8")
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise ClvlensError(f"model JSON: invalid at {where}; not a clvlens model file") from None
    return model_from_dict(d)
