"""Jupyter server extension: downloads and exports answer 403 inside a CIRN project container.

Defence in depth only: the real control is the closed network plus egress review. Routes are
added in front of the server's own, so /files/ and /nbconvert/ never reach their handlers.
"""

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import default

IMAGE_KERNELS = "/opt/venv/share/jupyter/kernels"

MESSAGE = ("downloads and exports are disabled in the CIRN enclave; "
           "ask for a release through egress review")


class RefusedHandler(JupyterHandler):
    def prepare(self):
        raise web.HTTPError(403, MESSAGE)


class ImageKernelSpecManager(KernelSpecManager):
    """Kernel specs from the image's read-only folder only.

    The server serves every file of a kernel spec's folder at /kernelspecs/<name>/; the default
    folders include ~/.local/share/jupyter/kernels and ~/.ipython/kernels, which a process in
    the container can write, so a data file copied into one would be served past the contents
    API's rules. (`kernel_dirs` is not a configurable trait, hence the subclass.)
    """

    @default("kernel_dirs")
    def _image_kernel_dirs(self):
        return [IMAGE_KERNELS]


def _jupyter_server_extension_points():
    return [{"module": "cirn_lockdown"}]


def _load_jupyter_server_extension(serverapp):
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [
        (url_path_join(base, r"/files/.*"), RefusedHandler),
        (url_path_join(base, r"/nbconvert/.*"), RefusedHandler),
        (url_path_join(base, r"/view/.*"), RefusedHandler),
    ])
    serverapp.log.info("cirn_lockdown: /files/, /nbconvert/ and /view/ refused")
