"""The `qc` section of the policy: sample and variant QC thresholds for `cirn datasets qc`."""

from __future__ import annotations

from .schema_base import Strict


class QcPolicy(Strict):
    """Filled in by the datasets part."""
