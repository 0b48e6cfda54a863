"""Jupyter server extension: counts the bytes this project server sends to the browser and reports them.

Counted, by kind: HTTP responses (`http`), kernel websocket frames (`kernel`), terminal websocket
frames (`terminal`) and other websockets (`websocket`). JupyterLab's own code, served from the
read-only image (under sys.prefix), is reported as `static`: it is the same for everyone and
carries no data, and the hub does not count it. Counts are cumulative since this server started,
tagged with a random instance id, and POSTed every $CIRN_METER_INTERVAL seconds (and early after
a burst) to the hub-side meter service ($CIRN_METER_URL) with this server's own token: the
service takes the user and project from the token and only ever adds growth, so a report the
researcher forges can raise their count, never lower it.

Counting happens where tornado hands bytes to the connection (RequestHandler.flush and the
websocket protocol's frame writer): one addition per write, whatever the handler.
"""

from __future__ import annotations

import json
import os
import sys
import uuid

from tornado import web, websocket
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import IOLoop, PeriodicCallback

KINDS = ("http", "kernel", "terminal", "websocket", "static")
BURST = 2 * 1024 * 1024  # report early once this much is unreported, so a large output trips the limit sooner
IMAGE_PREFIX = os.path.realpath(sys.prefix) + os.sep


class Meter:
    """Cumulative bytes sent to clients, by kind, and the reporting of them."""

    def __init__(self, url: str | None, token: str | None, interval: float, log):
        self.sent = dict.fromkeys(KINDS, 0)
        self.instance = uuid.uuid4().hex
        self.seq = 0
        self.url, self.token, self.interval, self.log = url, token, interval, log
        self.unreported = 0
        self.reporting = False

    def add(self, kind: str, n: int) -> None:
        self.sent[kind] += n
        if kind != "static":
            self.unreported += n
            if self.unreported > BURST and not self.reporting and self.url:
                self.reporting = True
                IOLoop.current().add_callback(self.report)

    async def report(self) -> None:
        if not self.url or not self.token:
            return
        self.reporting = True
        self.seq += 1
        pending, body = self.unreported, json.dumps({"instance": self.instance, "seq": self.seq, "sent": self.sent})
        try:
            await AsyncHTTPClient().fetch(HTTPRequest(
                self.url, method="POST", body=body, request_timeout=20,
                headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"}))
            self.unreported = max(0, self.unreported - pending)
        except Exception as exc:  # the hub side may be restarting: the next report carries the totals
            self.log.warning("cirn_meter: report to %s failed (%s); retrying at the next interval", self.url, exc)
        finally:
            self.reporting = False


METER: Meter | None = None
_KIND_OF_CLASS: dict[type, str] = {}


def websocket_kind(handler) -> str:
    cls = type(handler)
    kind = _KIND_OF_CLASS.get(cls)
    if kind is None:
        names = " ".join(f"{c.__module__}.{c.__name__}" for c in cls.__mro__)
        kind = "kernel" if ".kernels." in names else "terminal" if "terminal" in names.lower() else "websocket"
        _KIND_OF_CLASS[cls] = kind
    return kind


def http_kind(handler) -> str:
    if isinstance(handler, web.StaticFileHandler):
        path = getattr(handler, "absolute_path", None)
        # Resolved, so a link from the writable home into the image (or out of it) is judged by its target.
        if path and os.path.realpath(path).startswith(IMAGE_PREFIX):
            return "static"
    return "http"


def install(meter: Meter) -> None:
    """Wrap the two places tornado writes to a client; idempotent."""
    global METER
    first = METER is None
    METER = meter
    if not first:
        return
    flush = web.RequestHandler.flush

    def metered_flush(self, include_footers: bool = False):
        n = 0
        for chunk in self._write_buffer:
            n += len(chunk)
        if n:
            METER.add(http_kind(self), n)
        return flush(self, include_footers)

    write_frame = websocket.WebSocketProtocol13._write_frame

    def metered_write_frame(self, fin, opcode, data, flags=0):
        METER.add(websocket_kind(self.handler), len(data))
        return write_frame(self, fin, opcode, data, flags)

    web.RequestHandler.flush = metered_flush
    websocket.WebSocketProtocol13._write_frame = metered_write_frame


class MeterHandler(web.RequestHandler):
    """GET <base>/cirn/meter: this server's own counts, for the researcher (and the tests) to see."""

    def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"instance": METER.instance, "seq": METER.seq, "sent": METER.sent}))


def _jupyter_server_extension_points():
    return [{"module": "cirn_meter"}]


def _load_jupyter_server_extension(serverapp):
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_path_join
    from tornado.web import authenticated

    url = os.environ.get("CIRN_METER_URL")
    interval = float(os.environ.get("CIRN_METER_INTERVAL") or 15)
    meter = Meter(url.rstrip("/") + "/api/report" if url else None, os.environ.get("JUPYTERHUB_API_TOKEN"),
                  interval, serverapp.log)
    install(meter)

    class Counts(JupyterHandler, MeterHandler):
        @authenticated
        def get(self):
            MeterHandler.get(self)

    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, r"/cirn/meter"), Counts)])
    if meter.url:
        PeriodicCallback(meter.report, interval * 1000).start()
        serverapp.log.info("cirn_meter: reporting bytes sent to %s every %.0f s", meter.url, interval)
    else:
        serverapp.log.warning("cirn_meter: CIRN_METER_URL is not set; counting without reporting")
