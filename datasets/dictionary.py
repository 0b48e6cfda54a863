"""The data dictionary of a table: each column's type, description and disclosure role.

Roles decide what provisioning does with a column: `identifier` values are replaced by
project-specific pseudonyms, `quasi-identifier` columns are flagged for egress review, other
columns are plain `attribute`s. The participant and sample columns link tables and genotypes.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

ROLES = ("identifier", "quasi-identifier", "attribute")

# Pseudonym namespaces: an identifier column pseudonymised under the same namespace gets the same
# pseudonym in every table of a project (so a clinical sample_id still joins the genotypes).
NAMESPACE_BY_COLUMN = {
    "participant_id": "participant", "participant": "participant", "patient_id": "participant",
    "subject_id": "participant", "person_id": "participant",
    "sample_id": "sample", "sample": "sample", "specimen_id": "sample",
    "family_id": "family", "family": "family", "pedigree_id": "family",
}
QUASI_IDENTIFIER_NAMES = {"age", "sex", "gender", "region", "birth_date", "date_of_birth", "dob", "postcode",
                          "zip", "ethnicity", "enrolment_date", "enrollment_date", "diagnosis_date",
                          "death_date", "consent_date", "birth_year"}
DIRECT_IDENTIFIER_NAMES = {"name", "full_name", "phone", "email", "address", "resident_number", "rrn", "mrn"}


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    role: str = "attribute"
    namespace: str | None = None
    description: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def guess_role(name: str) -> tuple[str, str | None]:
    key = name.strip().lower()
    if key in NAMESPACE_BY_COLUMN:
        return "identifier", NAMESPACE_BY_COLUMN[key]
    if key in DIRECT_IDENTIFIER_NAMES:
        return "identifier", "direct"
    if key.endswith("_id") and key[:-3] in {"participant", "patient", "subject", "sample", "family"}:
        return "identifier", NAMESPACE_BY_COLUMN.get(key, key[:-3])
    if key in QUASI_IDENTIFIER_NAMES or key.endswith("_date"):
        return "quasi-identifier", None
    return "attribute", None


def read_dictionary_file(path: Path) -> dict[str, dict]:
    """A CSV with columns `column`, and optionally `description`, `role`, `namespace`."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    out: dict[str, dict] = {}
    for i, row in enumerate(rows, start=2):
        name = (row.get("column") or "").strip()
        if not name:
            from .errors import MalformedInput
            raise MalformedInput(path, i, "a data dictionary row needs a `column` value")
        role = (row.get("role") or "").strip() or None
        if role and role not in ROLES:
            from .errors import MalformedInput
            raise MalformedInput(path, i, f"role {role!r} is not one of {', '.join(ROLES)}")
        out[name] = {"description": (row.get("description") or "").strip(), "role": role,
                     "namespace": (row.get("namespace") or "").strip() or None}
    return out


def build_dictionary(columns: list[tuple[str, str]], given: dict[str, dict] | None = None) -> list[ColumnInfo]:
    given = given or {}
    infos = []
    for name, typ in columns:
        role, namespace = guess_role(name)
        extra = given.get(name, {})
        if extra.get("role"):
            role = extra["role"]
            if role != "identifier":
                namespace = None
            elif extra.get("namespace"):
                namespace = extra["namespace"]
            elif namespace is None:
                namespace = name.lower()
        infos.append(ColumnInfo(name, typ, role, namespace, extra.get("description", "")))
    return infos
