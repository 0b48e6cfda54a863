"""A checks worker process: loads the checks engine, gives up its privileges, then checks the files
it is sent over stdin and answers on stdout (the parent is cirn.egress.checks.sandbox).

Order matters: everything the checks import is loaded first (as the account that started the
worker, which can read the installed code), then, when started as root, the worker switches to
the unprivileged account it was given, takes away its own access to every path and port
(Landlock, confine.py), sets its own limits, and only then reads a file.
Messages are frames: 8 bytes of big-endian length, then the payload; every message to the parent
is JSON, so a worker that a file subverts still cannot hand its parent more than data.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import struct
import sys

from .confine import ConfineError, deny_all  # imported before the switch, like PRELOAD

# Modules the checks (or the libraries under them) import on first use. After the switch to the
# unprivileged account the installed code may not be readable (a virtualenv under /root), so they
# are imported, and a sample of every file type is checked, before it.
PRELOAD = (
    "encodings.cp949", "encodings.latin_1", "encodings.utf_8", "encodings.utf_8_sig", "encodings.utf_16",
    "encodings.utf_16_le", "encodings.utf_16_be", "encodings.ascii", "encodings.idna", "unicodedata", "base64",
    "binascii", "bz2", "lzma", "gzip", "zlib", "tarfile", "zipfile", "csv", "json", "html", "html.parser",
    "xml.etree.ElementTree", "polars", "numpy", "pyarrow", "pyarrow.parquet", "pyarrow.compute", "openpyxl",
    "lxml.html", "pypdf", "pypdf.errors", "nbformat", "presidio_analyzer",
)
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4


def read_frame(stream) -> bytes | None:
    head = stream.read(8)
    if len(head) < 8:
        return None
    (size,) = struct.unpack(">Q", head)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return payload


def write_message(stream, message: dict) -> None:
    payload = json.dumps(message, ensure_ascii=False).encode("utf-8")
    stream.write(struct.pack(">Q", len(payload)) + payload)
    stream.flush()


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional reader that is not installed: its checks fail closed
            pass


def _samples() -> list[tuple[bytes, str]]:
    """One small file of each type the checks read, so that their lazy imports happen now."""
    import gzip
    import io
    import tarfile
    import zipfile

    import polars as pl

    table = pl.DataFrame({"region": ["A", "B"], "n": [12, 40]})
    parquet = io.BytesIO()
    table.write_parquet(parquet)
    csv = b"region,n\nA,12\nB,40\n"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("t.csv", csv)
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as tf:
        info = tarfile.TarInfo("t.csv")
        info.size = len(csv)
        tf.addfile(info, io.BytesIO(csv))
    samples = [(b"warm up, call 010-0000-0000 rs123 0/1\n", "w.txt"), (csv, "w.csv"),
               (parquet.getvalue(), "w.parquet"), (archive.getvalue(), "w.zip"), (tar.getvalue(), "w.tar.gz"),
               (gzip.compress(csv), "w.csv.gz"), ("환자 메모\n".encode("cp949"), "w.txt"),
               (b"<table><tr><th>a</th></tr><tr><td>1</td></tr></table>", "w.html"),
               (b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "w.ipynb")]
    try:
        import openpyxl
        wb, out = openpyxl.Workbook(), io.BytesIO()
        wb.active.append(["region", "n"])
        wb.save(out)
        samples.append((out.getvalue(), "w.xlsx"))
    except Exception:  # pragma: no cover - openpyxl is a dependency
        pass
    return samples


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_privileges(uid: int, gid: int) -> None:
    """Switch to uid/gid for good: from root, or from an account given CAP_SETUID and CAP_SETGID
    (a service unit's AmbientCapabilities), which keeps its capabilities across the switch
    unless they are cleared here."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    no_capabilities = (_CapData * 2)()
    libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), no_capabilities)  # _LINUX_CAPABILITY_VERSION_3
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("the checks worker still runs as root; it refuses to read files")
    try:  # the switch must be for good
        os.setuid(0)
    except PermissionError:
        return
    raise SystemExit("the checks worker could switch back to root; it refuses to read files")


def _confine(required: bool) -> int:
    """No file or port from here on (confine.py). Required when the worker kept the account that
    started it (the egress service's own, in production): without it the worker could read what
    that account reads. After a switch to the sandbox account it is a second wall, used where the
    kernel has it."""
    try:
        return deny_all()
    except ConfineError as exc:
        if required:
            raise SystemExit(f"the checks worker cannot give up the egress service's file access: {exc}; "
                             "run the service as root with egress.sandbox.user, or on a kernel with Landlock")
        return 0


def _limit(memory_bytes: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write to a file fails instead of killing
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _cpu_budget(seconds: int) -> None:
    """RLIMIT_CPU counts the process's whole life: allow `seconds` more than used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    resource.setrlimit(resource.RLIMIT_CPU, (used + seconds, hard))


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed by a library can corrupt the frames
    init = read_frame(stdin)
    if init is None:
        return 2
    setup = json.loads(init)
    from cirn.policies.egress_rules import EgressPolicy

    from .context import ScanContext
    from .identifiers import IdentifierSet
    from .scan import scan_bytes

    policy = EgressPolicy.model_validate(setup["policy"])
    _preload()
    base = ScanContext(policy, IdentifierSet.empty())
    for data, name in _samples():
        scan_bytes(data, name, base)
    switched = setup.get("uid") is not None
    if switched:
        _drop_privileges(setup["uid"], setup["gid"])
    elif os.geteuid() == 0:
        raise SystemExit("the checks worker was started as root without an account to switch to")
    landlock = _confine(required=not switched)
    _limit(policy.sandbox.memory_bytes)
    write_message(stdout, {"ready": True, "uid": os.getuid(), "pid": os.getpid(), "landlock": landlock})

    contexts: dict[str, ScanContext] = {}
    while True:
        frame = read_frame(stdin)
        if frame is None:
            return 0
        job = json.loads(frame)
        if job["op"] == "context":
            ctx = ScanContext(policy, IdentifierSet(job["identifiers"]))
            for shared in ("pii", "pii_severity", "tables"):  # built from the policy alone: load once
                ctx.__dict__[shared] = getattr(base, shared)
            contexts[job["key"]] = ctx  # kept for the worker's life: the parent remembers what it sent
            continue
        data = read_frame(stdin)
        if data is None:
            return 0
        _cpu_budget(policy.sandbox.cpu_seconds)
        try:
            reports = [r.to_dict() for r in scan_bytes(data, job["name"], contexts[job["key"]])]
        except MemoryError:
            reports = None
        except Exception as exc:  # the parent blocks the file, naming the error
            write_message(stdout, {"error": type(exc).__name__})
            continue
        if reports is None:
            del data
            write_message(stdout, {"limit": "memory"})
            return 0  # a heap that ran out is not trusted with the next file
        write_message(stdout, {"reports": reports})


if __name__ == "__main__":
    sys.exit(main())
