"""The success banners of the application pages: a fixed text per key, chosen by the code that redirects.

A redirect carries only the key (`?done=submitted`); the page shows the text this table maps it
to, and nothing for an unknown key, so a link can never put words of its own on the page under
the enclave's name (a crafted `?msg=` once could). Same shape as cirn.egress.service.banners.
"""

from __future__ import annotations

BANNERS: dict[str, str] = {
    "drafted": "Draft saved. Upload the documents and sign the pledge, then submit.",
    "amending": "Amendment started from the project as it is now: change what you need.",
    "saved": "Saved.",
    "uploaded": "Document uploaded; it is listed under the application's documents.",
    "pledged": "Security pledge signed.",
    "provisioned": "The project is ready: members, grants and extracts are in place.",
    "submitted": "Submitted to the distribution committee and the research review committee.",
    "withdrawn": "Application withdrawn.",
    "decided-distribution": "Decision recorded for the distribution committee.",
    "decided-research": "Decision recorded for the research committee.",
    "decided-distribution-provisioned": "Decision recorded for the distribution committee. Both committees "
                                        "approved: the project was provisioned.",
    "decided-research-provisioned": "Decision recorded for the research committee. Both committees approved: "
                                    "the project was provisioned.",
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
