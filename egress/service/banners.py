"""The success banners of the pages: a fixed text per key, chosen by the code that redirects.

A redirect carries only the key (`?done=withdrawn`); the page shows the text this table maps it
to, and nothing for an unknown key, so a link can never put words of its own on the page (a
crafted `?msg=` could once show "Approved: download it from ..." under the service's name).
"""

from __future__ import annotations

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


def banner(key: str | None) -> str | None:
    """The fixed text for `key`, or None (no banner) for a missing or unknown key."""
    return BANNERS.get(key or "")


def done_query(key: str) -> str:
    """The query string a redirect carries for `key` (refuses keys with no text: a typo would
    otherwise show no banner silently)."""
    if key not in BANNERS:
        raise KeyError(f"no banner text for {key!r}; add it to BANNERS")
    return f"?done={key}"
