"""The contents manager of project servers: data files are read in a kernel, never sent to a client.

Any path that resolves under /data (the ~/data link, a link a researcher makes in the workspace,
`..` through a link) gets metadata only from the contents API: asking for its content, copying
or renaming it, saving over it or checkpointing it is a 403 that says to read it in a kernel.
Other files are sent only up to the policy's caps (contents.base64_max_bytes for binary content,
contents.text_max_bytes for text), which the spawner passes in the environment. Notebooks are
not capped: opening them is the interactive session itself, which the volume meter bounds.
"""

from __future__ import annotations

import os

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import Integer, Unicode, default

READ_IN_KERNEL = ("{path} is a granted data file: the contents API gives its metadata only. Read it in a kernel "
                  "(pandas, polars or DuckDB in a notebook); results leave the enclave only through egress review")
NOT_FROM_DATA = ("{path} resolves to a granted data file under {root}: the contents API does not {verb} data files. "
                 "Work with it in a kernel; results leave the enclave only through egress review")
TOO_LARGE = ("{path} is {size:,} bytes; the contents API sends {kind} content only up to {cap:,} bytes (policy "
             "contents.{key}). Work with it in a kernel; results leave the enclave only through egress review")


def _env_int(name: str, fallback: int) -> int:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return fallback


class DataGuardContentsManager(AsyncLargeFileManager):
    """AsyncLargeFileManager that keeps data files' bytes in the container."""

    data_root = Unicode(help="Where the granted datasets are mounted (read-only). Default: $CIRN_DATA_ROOT or /data.").tag(config=True)
    base64_max_bytes = Integer(help="Largest file whose content is sent as base64. Default: "
                                    "$CIRN_CONTENTS_BASE64_MAX_BYTES (from the policy) or 256 KiB.").tag(config=True)
    text_max_bytes = Integer(help="Largest file whose content is sent as text. Default: "
                                  "$CIRN_CONTENTS_TEXT_MAX_BYTES (from the policy) or 1 MiB.").tag(config=True)

    @default("data_root")
    def _data_root_default(self):
        return os.environ.get("CIRN_DATA_ROOT", "/data")

    @default("base64_max_bytes")
    def _b64_default(self):
        return _env_int("CIRN_CONTENTS_BASE64_MAX_BYTES", 256 * 1024)

    @default("text_max_bytes")
    def _text_default(self):
        return _env_int("CIRN_CONTENTS_TEXT_MAX_BYTES", 1024 * 1024)

    def is_data(self, path: str) -> bool:
        """Whether an API path resolves (through any link or `..`) to the data mounts."""
        real = os.path.realpath(self._get_os_path(path.strip("/")))
        root = os.path.realpath(self.data_root)
        return real == root or real.startswith(root + os.sep)

    def _refuse(self, path: str, verb: str):
        raise web.HTTPError(403, NOT_FROM_DATA.format(path=path, root=self.data_root, verb=verb))

    def _check_size(self, path: str, size: int, kind: str):
        cap, key = ((self.base64_max_bytes, "base64_max_bytes") if kind == "base64"
                    else (self.text_max_bytes, "text_max_bytes"))
        if size > cap:
            raise web.HTTPError(403, TOO_LARGE.format(path=path, size=size, kind=kind, cap=cap, key=key))

    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        os_path = self._get_os_path(path.strip("/"))
        if not content or os.path.isdir(os_path):
            return await super().get(path, content=content, type=type, format=format, require_hash=require_hash)
        if self.is_data(path):
            raise web.HTTPError(403, READ_IN_KERNEL.format(path=path))
        notebook = type == "notebook" or (type is None and path.endswith(".ipynb"))
        if not notebook and os.path.isfile(os_path):
            size = os.path.getsize(os_path)
            if format == "base64":
                self._check_size(path, size, "base64")
            else:
                self._check_size(path, size, "text")
                if format is None and size > self.base64_max_bytes:
                    # Auto format falls back to base64 for a file that is not UTF-8: above the
                    # base64 cap only text is allowed, so ask for text (400 if it is binary).
                    try:
                        return await super().get(path, content=True, type=type, format="text",
                                                 require_hash=require_hash)
                    except web.HTTPError as exc:
                        if exc.status_code == 400:
                            self._check_size(path, size, "base64")
                        raise
        return await super().get(path, content=content, type=type, format=format, require_hash=require_hash)

    async def save(self, model, path=""):
        if self.is_data(path):
            self._refuse(path, "write over")
        return await super().save(model, path)

    async def rename_file(self, old_path, new_path):
        # shutil.move copies across mounts (then fails to delete the read-only source): a rename
        # out of /data would leave a copy of the data file in the workspace.
        for p in (old_path, new_path):
            if self.is_data(p):
                self._refuse(p, "move")
        return await super().rename_file(old_path, new_path)

    async def copy(self, from_path, to_path=None):
        # Folder copies use shutil.copytree and never pass through get(), so check here.
        if self.is_data(from_path):
            self._refuse(from_path, "copy")
        if to_path is not None and self.is_data(to_path):
            self._refuse(to_path, "copy into")
        return await super().copy(from_path, to_path)

    async def create_checkpoint(self, path):
        if self.is_data(path):
            self._refuse(path, "checkpoint")
        return await super().create_checkpoint(path)
