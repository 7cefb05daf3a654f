"""`python -m clvlens` runs the command line."""

from clvlens.cli import entry

entry()
