"""What every check needs during a scan: the policy, the identifiers, the PII scanner."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from cirn.policies.egress_rules import EgressPolicy

from .findings import Verdict
from .identifiers import IdentifierSet
from .tables import TableChecker


@dataclass
class ScanContext:
    """Build one per policy and identifier list and reuse it for every file: it keeps Presidio's
    analyzer, which takes seconds to load. `identifiers` may be an `IdentifierSet` or any
    iterable of identifier strings."""

    policy: EgressPolicy = field(default_factory=EgressPolicy)
    identifiers: IdentifierSet = field(default_factory=IdentifierSet.empty)

    def __post_init__(self) -> None:
        if self.policy is None:
            self.policy = EgressPolicy()
        if self.identifiers is None:
            self.identifiers = IdentifierSet.empty()
        elif not isinstance(self.identifiers, IdentifierSet):
            self.identifiers = IdentifierSet(self.identifiers)

    @cached_property
    def pii(self):
        from .pii import PiiScanner  # Presidio is imported only when text is scanned
        return PiiScanner(self.policy)

    @cached_property
    def pii_severity(self) -> dict[str, Verdict]:
        severities = {entity: Verdict.BLOCK for entity in self.policy.pii.entities}
        severities.update({k: Verdict.parse(v) for k, v in self.policy.pii.severity.items()})
        return severities

    @cached_property
    def tables(self) -> TableChecker:
        return TableChecker(self.policy, self.pii_severity)
