"""Helpers for the egress tests: pick findings out of a report."""

from __future__ import annotations

from cirn.egress.checks.findings import FileReport, Finding


def only(report: FileReport, check: str) -> list[Finding]:
    """Findings of exactly this check id (or of this category when it ends with a dot)."""
    return [f for f in report.findings if f.check == check or (check.endswith(".") and f.check.startswith(check))]


def checks(report: FileReport) -> set[str]:
    return {f.check for f in report.findings}


def locations(report: FileReport, check: str) -> list[str]:
    return [f.location for f in only(report, check)]
