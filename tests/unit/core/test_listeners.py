"""Which addresses a server adds for project networks: the gateway where the host owns it, else
the host's own address on that network (real sockets; the network listing is given as data)."""

from __future__ import annotations

import socket

from tornado.httpserver import HTTPServer
from tornado.web import Application

from cirn.hub.listeners import GatewayListeners

from tests.loops import in_own_loop


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gateway_where_owned_else_our_address_on_the_network():
    in_own_loop(_gateway_where_owned_else_our_address())


async def _gateway_where_owned_else_our_address():
    server, port = HTTPServer(Application()), free_port()
    networks = {"owned": "127.0.0.2", "elsewhere": "192.0.2.77"}  # 192.0.2.0/24 is nobody's here
    asked = []

    def attached(net_id):
        asked.append(net_id)
        return ["192.0.2.78", "127.0.0.3"]  # another container's address, then ours

    listeners = GatewayListeners(server, port, networks=lambda: networks, addresses_on=attached)
    try:
        listeners.refresh()
        assert listeners.bound == {"127.0.0.2", "127.0.0.3"} and asked == ["elsewhere"]
        with socket.create_connection(("127.0.0.2", port), 2), socket.create_connection(("127.0.0.3", port), 2):
            pass
        listeners.refresh()  # a network already handled is not looked at again
        assert asked == ["elsewhere"]
        networks["new"] = "127.0.0.4"
        listeners.refresh()
        assert "127.0.0.4" in listeners.bound
    finally:
        server.stop()
