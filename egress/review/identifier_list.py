"""Holding a project's files when its identifier list is missing.

Provisioning writes the project's pseudonyms to `egress-identifiers.txt` in the project folder
(cirn.datasets.identifier_list.EGRESS_IDENTIFIERS); the checks match every file against it. Without
that file the identifier checks have nothing to match, and a file full of pseudonyms would scan
as `pass`. So each file of such a project gets a `review` finding: two reviewers must look,
and the admin is told what to do (provision the project again). An empty list is a list: a
project provisioned without person-level data has no pseudonyms to look for.
"""

from __future__ import annotations

from pathlib import Path

from .checking import PROJECT_IDENTIFIERS
from .holds import add_findings

CHECK = "identifier.list-missing"


def identifier_list_missing(project_folder: Path) -> bool:
    return not (Path(project_folder) / PROJECT_IDENTIFIERS).is_file()


def missing_list_finding(project: str) -> dict:
    return {"check": CHECK, "severity": "review", "location": "file",
            "message": f"project {project} has no identifier list ({PROJECT_IDENTIFIERS}), so its pseudonyms "
                       "were not looked for; a reviewer must read the file for participant and sample IDs "
                       "(an admin restores the list by provisioning the project again)"}


def hold_without_identifiers(project: str, result, path: str = ""):
    """(kind, verdict, reports) of one file's scan, held for review."""
    return add_findings(result, path, [missing_list_finding(project)])
