"""One end-to-end run that writes a workspace."""

from clvlens.pipeline.run import RunResult, RunSettings, build_customer_table, run_pipeline
from clvlens.pipeline.workspace import WORKSPACE_FILE, open_workspace, read_table, workspace_path

__all__ = [
    "WORKSPACE_FILE",
    "RunResult",
    "RunSettings",
    "build_customer_table",
    "open_workspace",
    "read_table",
    "run_pipeline",
    "workspace_path",
]
