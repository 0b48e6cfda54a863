"""The schema of policies/enclave.yaml: every section a pydantic model that forbids unknown keys.

Each part of the enclave owns the model of its own section (egress rules, QC thresholds) and
this module composes them, so one file is validated once, in one place.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

MEM_RE = re.compile(r"^\d+(\.\d+)?[KMG]?$")


from .schema_base import Strict
from .egress_rules import EgressPolicy
from .qc_rules import QcPolicy
from .meter_rules import MeterPolicy


class ResourceProfile(Strict):
    mem_limit: str = Field(description="Memory limit for a project container, e.g. 4G.")
    cpu_limit: float = Field(gt=0, le=64, description="CPU cores a project container may use.")
    pids_limit: int = Field(ge=32, le=65536, description="Maximum processes in a container.")

    @field_validator("mem_limit")
    @classmethod
    def _mem(cls, value: str) -> str:
        if not MEM_RE.match(value):
            raise ValueError(f"mem_limit {value!r} must be a number with an optional K, M or G suffix, e.g. 4G")
        return value


class Resources(Strict):
    default_profile: str
    profiles: dict[str, ResourceProfile]

    @model_validator(mode="after")
    def _default_exists(self) -> "Resources":
        if self.default_profile not in self.profiles:
            raise ValueError(
                f"resources.default_profile {self.default_profile!r} is not one of the profiles "
                f"({', '.join(sorted(self.profiles))}); add it under resources.profiles or pick one"
            )
        return self


class Images(Strict):
    default: str
    allowed: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_allowed(self) -> "Images":
        if self.default not in self.allowed:
            raise ValueError(f"images.default {self.default!r} must also be listed in images.allowed")
        return self


class Hub(Strict):
    admin_token_max_days: float = Field(default=30, gt=0, le=366, description=(
        "Longest lifetime of an API token (only enclave admins make them), in days; the hub refuses "
        "longer ones and shortens older tokens to it."))
    reconcile_interval: float = Field(default=20, gt=0, le=60)


class Contents(Strict):
    """What a project server's contents API may send to a browser (files under /data: metadata only)."""

    base64_max_bytes: int = Field(default=256 * 1024, ge=0, le=64 * 1024**2,
                                  description="Largest file whose content is sent as base64 (binary).")
    text_max_bytes: int = Field(default=1024**2, ge=0, le=256 * 1024**2,
                                description="Largest file whose content is sent as text.")


class EnclavePolicy(Strict):
    resources: Resources
    images: Images
    hub: Hub = Hub()
    contents: Contents = Contents()
    egress: EgressPolicy = EgressPolicy()
    qc: QcPolicy = QcPolicy()
    meter: MeterPolicy = MeterPolicy()
