"""Who is calling: a browser user through hub OAuth (cookie + XSRF), or a project server's own token.

A project server's token carries `access:servers!server=<user>/<project>`; a call made with it
speaks for that project only, and may submit but never review or download.
"""

from __future__ import annotations

REVIEW_SCOPE = "custom:egress:review"


def container_project(model: dict) -> str | None:
    """The project whose server token made the call, or None for browser and personal tokens."""
    prefix = f"access:servers!server={model.get('name')}/"
    servers = {s[len(prefix):] for s in model.get("scopes", []) if s.startswith(prefix)}
    if len(servers) == 1:
        return servers.pop()
    if len(servers) > 1:
        return "*"  # a token for several servers speaks for none of them
    return None


def is_reviewer(model: dict) -> bool:
    return REVIEW_SCOPE in set(model.get("scopes", []))
