"""How people log in to the hub.

`demo` (the default): local accounts from the enclave database, only on a loopback address.
Other authenticators (OpenID Connect for production) are added here, chosen by
CIRN_AUTHENTICATOR in the hub's environment.
"""

from __future__ import annotations


def configure_login(c, s) -> None:
    if s.authenticator == "demo":
        from .auth import DemoAuthenticator, check_loopback

        check_loopback(s.ip)
        c.JupyterHub.authenticator_class = DemoAuthenticator
        c.DemoAuthenticator.enclave = s.enclave
        # Group membership (and so roles) comes from the accounts table at every login.
        c.DemoAuthenticator.manage_groups = True
        return
    raise ValueError(f"unknown authenticator {s.authenticator!r} (CIRN_AUTHENTICATOR); use 'demo'")
