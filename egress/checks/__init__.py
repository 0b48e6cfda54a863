"""The egress checks engine: what `cirn egress scan` and the egress-review service run on files
before anything leaves the enclave.

The library API is what this package exports; its modules are internals:
- `scan_paths(paths, policy, identifiers)` -> `ScanReport`, for files and folders;
- `scan_bytes(data, name, context)` -> `[FileReport]`, for content already in memory;
- `ScanContext(policy, identifiers)`, built once and passed to every call (it holds the analyzer);
- `ScanSandbox(policy)`, a pool of checks worker processes: `scan(data, name, identifiers)`
  returns `scan_bytes`'s reports as dicts, under the policy's sandbox limits; passed to
  `scan_paths(..., sandbox=)` it checks each file's content there.
"""

from .context import ScanContext
from .findings import FileReport, Finding, ScanReport, Verdict
from .identifiers import IdentifierListError, IdentifierSet
from .sandbox import SandboxError, ScanSandbox
from .scan import ScanInputError, scan_bytes, scan_paths

__all__ = ["FileReport", "Finding", "IdentifierListError", "IdentifierSet", "ScanContext", "ScanInputError",
           "ScanReport", "SandboxError", "ScanSandbox", "Verdict", "scan_bytes", "scan_paths"]

# For the review service's previews (cirn.egress.review.previews): it shows the reviewer each part
# the checks read, so it sniffs and opens files exactly as they do.
from .archives import ArchiveReader, Budget  # noqa: E402
from .sniff import Sniffed, sniff  # noqa: E402

__all__ += ["ArchiveReader", "Budget", "Sniffed", "sniff"]
