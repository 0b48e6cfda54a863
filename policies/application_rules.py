"""Rules of data-access applications (policies/applications.yaml): required documents, the
security pledge, upload limits, period limits and whether approval provisions automatically."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from .schema_base import Strict

DEFAULT_APPLICATION_POLICY = Path(__file__).with_name("applications.yaml")
IRB = "irb"


class RequiredDocument(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$", description="Short id, e.g. irb.")
    title: str = Field(min_length=1, description="What the form calls the document.")
    description: str = Field(default="", description="What the applicant must upload.")
    pdf_only: bool = Field(default=True, description="Only PDF files are accepted.")


class Pledge(Strict):
    title: str = Field(min_length=1)
    text: str = Field(min_length=20, description="The text the applicant reads and signs; its sha256 is recorded.")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


class ApplicationPolicy(Strict):
    required_documents: list[RequiredDocument] = Field(min_length=1)
    pledge: Pledge
    max_upload_mb: float = Field(default=20, gt=0, le=500, description="Largest accepted upload, in MB.")
    max_period_days: int = Field(default=1095, ge=1, description="Longest period an application may ask for.")
    auto_provision: bool = Field(default=False, description="Provision as soon as both committees approve.")

    @model_validator(mode="after")
    def _irb_required(self) -> "ApplicationPolicy":
        ids = [d.id for d in self.required_documents]
        if IRB not in ids:
            raise ValueError("required_documents must include the IRB approval notice (id: irb)")
        if len(ids) != len(set(ids)):
            raise ValueError(f"required_documents ids must be unique, got {', '.join(ids)}")
        return self

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def document(self, doc_id: str) -> RequiredDocument | None:
        return next((d for d in self.required_documents if d.id == doc_id), None)


class ApplicationPolicyError(ValueError):
    """The application policy file is missing, not YAML, or does not match the schema."""


def load_application_policy(path: str | Path | None = None, environ: dict | None = None) -> ApplicationPolicy:
    """Load the file at `path`, else $CIRN_APPLICATION_POLICY, else the packaged applications.yaml."""
    env = os.environ if environ is None else environ
    path = Path(path or env.get("CIRN_APPLICATION_POLICY") or DEFAULT_APPLICATION_POLICY)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ApplicationPolicyError(f"application policy {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ApplicationPolicyError(f"application policy {path} is not valid YAML: {exc}") from None
    try:
        return ApplicationPolicy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                             for e in exc.errors())
        raise ApplicationPolicyError(f"application policy {path} is not valid: {problems}") from None
