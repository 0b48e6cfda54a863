"""The `egress` section of the policy: thresholds and file rules for `cirn egress scan`."""

from __future__ import annotations

from .schema_base import Strict


class EgressPolicy(Strict):
    """Filled in by the egress checks engine."""
