"""The Streamlit dashboard: `clvlens dashboard DIR` serves `app.py` on loopback.

The app reads the workspace only through :mod:`clvlens.workspace` and draws with :mod:`clvlens.charts`; plotly's
geo maps draw offline from the empty base topology in `static/` (served by Streamlit's static serving).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from clvlens.errors import ClvlensError

APP_FILE = Path(__file__).with_name("app.py")
WORKSPACE_ENV = "CLVLENS_WORKSPACE"
MAX_UPLOAD_MB = 200


def streamlit_command(folder: Path, *, port: int = 8501, host: str = "127.0.0.1") -> list[str]:
    """The `streamlit run` command line serving the dashboard on `host:port`, headless, for `folder`."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_FILE),
        "--server.headless", "true", "--server.address", host, "--server.port", str(int(port)),
        "--server.enableStaticServing", "true", "--server.maxUploadSize", str(MAX_UPLOAD_MB),
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
        "--", str(folder),
    ]


def launch(folder: Path, *, port: int = 8501, host: str = "127.0.0.1") -> subprocess.Popen[bytes]:
    """Start the dashboard server for the workspace in `folder` (returns the running process)."""
    try:
        import streamlit  # noqa: F401
    except ImportError:
        raise ClvlensError("the dashboard needs streamlit: pip install 'streamlit>=1.40'") from None
    from clvlens.workspace import Workspace

    folder = Path(folder).resolve()
    Workspace.open(folder).close()  # a one-line error now rather than a broken page later
    if not 0 < int(port) < 65536:
        raise ClvlensError(f"--port must be between 1 and 65535, got {port}")
    env = {**os.environ, WORKSPACE_ENV: str(folder)}
    return subprocess.Popen(streamlit_command(folder, port=port, host=host), env=env)
