"""The one read API over a workspace: `Workspace.open(folder)` and its typed accessors."""

from clvlens.workspace.core import QuarantinePage, Workspace
from clvlens.workspace.diagnostics import ModelDiagnostics, model_diagnostics
from clvlens.workspace.settings import Currency, RunInfo, detect_currency

__all__ = ["Currency", "ModelDiagnostics", "QuarantinePage", "RunInfo", "Workspace", "detect_currency",
           "model_diagnostics"]
