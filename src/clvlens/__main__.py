"""`python -m clvlens` runs the command line."""

import sys

from clvlens.cli import main

sys.exit(main())
