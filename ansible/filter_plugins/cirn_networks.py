"""Filters for the playbook's network settings, which may be IPv4 or IPv6 (Python's ipaddress).

    cirn_network_family: 4 or 6 for a network in CIDR form (host bits allowed, as nft allows
                         them), 0 for anything else; the cirn role's checks use it.
    cirn_networks(family): the networks of one family, for the firewall's per-family sets.
"""

from __future__ import annotations

import ipaddress


def cirn_network_family(value) -> int:
    if not isinstance(value, str) or value.count("/") != 1:
        return 0
    try:
        return ipaddress.ip_network(value.strip(), strict=False).version
    except ValueError:
        return 0


def cirn_networks(values, family: int) -> list[str]:
    return [str(v).strip() for v in values if cirn_network_family(v) == int(family)]


class FilterModule:
    def filters(self):
        return {"cirn_network_family": cirn_network_family, "cirn_networks": cirn_networks}
