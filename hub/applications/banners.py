"""The application pages' success banners (cirn.banners: fixed texts chosen by a key)."""

from __future__ import annotations

from cirn.banners import Banners

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

_BANNERS = Banners(BANNERS)
banner = _BANNERS.banner
done_query = _BANNERS.done_query
