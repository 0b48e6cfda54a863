"""Findings the desk adds to a file's scan for what the checks engine cannot know: the project
has no identifier list (identifier_list), the reviewer's page cannot show a part (previews)."""

from __future__ import annotations

from .checking import worst

Result = tuple[str, str, list[dict]]  # (kind, verdict, reports) as Checker.scan returns them


def add_findings(result: Result, path: str, findings: list[dict]) -> Result:
    """The scan with `findings` on the file's own report (the first) and the verdicts raised to
    match; the reports given are not changed."""
    if not findings:
        return result
    kind, verdict, reports = result
    reports = [dict(r) for r in reports] or [{"path": path, "sha256": "", "kind": kind, "verdict": verdict,
                                              "findings": []}]
    severities = [f["severity"] for f in findings]
    reports[0]["findings"] = list(reports[0].get("findings", [])) + list(findings)
    reports[0]["verdict"] = worst([reports[0].get("verdict", "pass"), *severities])
    return kind, worst([verdict, *severities]), reports
