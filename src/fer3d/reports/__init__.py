"""Reports: a self-contained HTML page and a Markdown twin with figures and the paper's tables."""

from fer3d.reports.builder import build_report

__all__ = ["build_report"]
