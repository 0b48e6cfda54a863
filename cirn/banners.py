"""Success banners of the enclave's web pages: a fixed text per key, chosen by the code that redirects.

A redirect carries only the key (`?done=withdrawn`); the page shows the text its service's table
maps it to, and nothing for an unknown key, so a link can never put words of its own on a page
under the enclave's name (a crafted `?msg=` once could show "Approved: download it from ...").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Banners:
    texts: dict[str, str]

    def banner(self, key: str | None) -> str | None:
        """The fixed text for `key`, or None (no banner) for a missing or unknown key."""
        return self.texts.get(key or "")

    def done_query(self, key: str) -> str:
        """The query string a redirect carries for `key` (refuses keys with no text: a typo would
        otherwise show no banner silently)."""
        if key not in self.texts:
            raise KeyError(f"no banner text for {key!r}; add it to the service's banners")
        return f"?done={key}"
