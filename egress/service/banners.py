"""The egress review pages' success banners (cirn.banners: fixed texts chosen by a key)."""

from __future__ import annotations

from cirn.banners import Banners

BANNERS: dict[str, str] = {
    "submitted": "Submitted: the files were copied and are being checked.",
    "withdrawn": "The request was withdrawn.",
    "decided": "Decision recorded; submit your review when every file is decided.",
    "reviewed": "Review submitted; the request's state is shown below.",
    "rejected": "The request was rejected.",
    "revoked": "The release was revoked.",
    "released": "The package was built.",
    "commented": "Comment added.",
    "resubmitted": "Resubmitted: new snapshots were taken and are being checked.",
}

_BANNERS = Banners(BANNERS)
banner = _BANNERS.banner
done_query = _BANNERS.done_query
