"""The executive report: DIR/report.html (self-contained, opens offline) and its PDF."""

from clvlens.report.build import REPORT_FILE, SECTIONS, build_report, write_report
from clvlens.report.pdf import find_browser, print_pdf

__all__ = ["REPORT_FILE", "SECTIONS", "build_report", "find_browser", "print_pdf", "write_report"]
