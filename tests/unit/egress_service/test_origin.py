"""Telling inside from outside by the connection: only the proxy on loopback is believed, and only
for the address it appended itself."""

from __future__ import annotations

import ipaddress

from tornado.httputil import HTTPHeaders

from cirn.egress.review import permissions as perm
from cirn.egress.review.states import RequestState
from cirn.egress.service.origin import forwarded_client, is_inside

PROJECTS = [ipaddress.ip_network("192.168.208.0/20")]


def test_the_direct_listener_is_inside_whatever_the_headers_say():
    assert is_inside("192.168.208.2", None, PROJECTS)
    assert is_inside("192.168.208.2", "127.0.0.1", PROJECTS)   # a spoofed X-Forwarded-For
    assert is_inside("10.1.2.3", "127.0.0.1", PROJECTS)        # a LAN caller on the direct listener
    assert is_inside("", None, PROJECTS)                       # no peer address at all


def test_through_the_proxy_the_appended_address_decides():
    assert not is_inside("127.0.0.1", None, PROJECTS)          # the host itself
    assert not is_inside("127.0.0.1", "10.1.2.3", PROJECTS)    # a browser outside
    assert not is_inside("::1", "10.1.2.3", PROJECTS)
    assert is_inside("127.0.0.1", "192.168.210.9", PROJECTS)   # a container that reached the proxy
    assert is_inside("127.0.0.1", "not-an-address", PROJECTS)


def test_only_the_last_forwarded_entry_is_the_proxys():
    headers = HTTPHeaders()
    headers.add("X-Forwarded-For", "127.0.0.1, 192.168.208.5")
    assert forwarded_client(headers) == "192.168.208.5"
    headers.add("X-Forwarded-For", "10.9.9.9")
    assert forwarded_client(headers) == "10.9.9.9"
    assert forwarded_client(HTTPHeaders()) is None


def test_a_call_from_inside_cannot_download():
    class Request:
        id, project, state = 7, "alpha", RequestState.released

    outside = perm.Person("alice", projects=frozenset({"alpha"}))
    inside = perm.Person("alice", projects=frozenset({"alpha"}), inside=True)
    assert perm.user_can_download(outside, Request())
    assert not perm.user_can_download(inside, Request())
