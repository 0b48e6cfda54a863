"""Landlock: a checks worker takes away its own access to every file and network port.

A worker started by root switches to the unprivileged `egress.sandbox.user` (sandbox_worker);
a worker started by the egress service running as its own account (production) cannot switch,
and would otherwise keep that account's access: the enclave database, the audit anchor, the
release store. Landlock (Linux 5.13+) lets any process, unprivileged, restrict itself for good,
and the restriction passes to anything it starts. The worker asks for every access right the
kernel knows and grants back only reading the installed code (the interpreter's prefixes and the
folders its loaded packages came from: libraries import modules late, and that code is no
secret), so after this call it can open nothing else (files it already holds open, its stdin
and stdout, keep working), write nowhere, bind or connect no TCP port (ABI 4+), and signal or
reach no process outside its domain (ABI 6+).

Direct system calls through ctypes: the standard library has no binding, and a dependency for
three calls would be more code to trust than this.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from pathlib import Path

# Same numbers on x86_64 and aarch64 (the generic table); other architectures are not supported.
SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
CREATE_RULESET_VERSION = 1 << 0
PR_SET_NO_NEW_PRIVS = 38

# Every filesystem right by the ABI that introduced it (uapi/linux/landlock.h).
FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: 1 << 13, 3: 1 << 14, 5: 1 << 15}
NET_RIGHTS = (1 << 0) | (1 << 1)  # bind, connect TCP: ABI 4
SCOPES = (1 << 0) | (1 << 1)  # abstract unix sockets, signals: ABI 6
READ_CODE = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read dir
RULE_PATH_BENEATH = 1


class ConfineError(RuntimeError):
    """Landlock is missing or refused: the caller decides whether the worker may go on."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1  # packed in the kernel's header
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def code_folders() -> list[Path]:
    """Where this process's code lives: the interpreter's prefixes and every loaded package's
    folders (an editable install keeps packages outside the prefix), each folder once, with none
    beneath another. Never the current folder or a state folder: no module is loaded from there."""
    found = {Path(p).resolve() for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}}
    for module in list(sys.modules.values()):
        for entry in getattr(module, "__path__", None) or []:
            found.add(Path(entry).resolve())
    kept: list[Path] = []
    for folder in sorted(found, key=lambda p: len(p.parts)):
        if os.path.isdir(folder) and folder != Path("/") and not any(folder.is_relative_to(k) for k in kept):
            kept.append(folder)
    return sorted(kept)


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The kernel's Landlock ABI, or 0 where there is none (old kernel, disabled, other arch)."""
    numbers = SYSCALLS.get(platform.machine())
    if numbers is None:
        return 0
    version = _libc().syscall(numbers[0], None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(int(version), 0)


def deny_all(readable: list[Path] | None = None) -> int:
    """Restrict this process (and its future children) to reading `readable` (default: the
    installed code, code_folders()) and no other filesystem or network access.

    Returns the ABI used; raises ConfineError where Landlock cannot be applied.
    """
    abi = abi_version()
    if abi < 1:
        raise ConfineError("this kernel has no Landlock (Linux 5.13 or later, with landlock in the lsm= list)")
    fs = 0
    for since, rights in FS_RIGHTS_BY_ABI.items():
        if abi >= since:
            fs |= rights
    attr = _RulesetAttr(fs, NET_RIGHTS if abi >= 4 else 0, SCOPES if abi >= 6 else 0)
    # The kernel reads only the fields its ABI knows: pass the size that ABI expects.
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    create, _add_rule, restrict = SYSCALLS[platform.machine()]
    libc = _libc()
    fd = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise ConfineError(f"landlock_create_ruleset failed (errno {ctypes.get_errno()})")
    try:
        for folder in code_folders() if readable is None else readable:
            try:
                dir_fd = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                continue  # a folder this account cannot reach stays unreachable
            try:
                rule = _PathBeneath(READ_CODE, dir_fd)
                if libc.syscall(_add_rule, ctypes.c_int(fd), ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule),
                                ctypes.c_uint32(0)) != 0:
                    raise ConfineError(f"landlock_add_rule for {folder} failed (errno {ctypes.get_errno()})")
            finally:
                os.close(dir_fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise ConfineError(f"prctl(PR_SET_NO_NEW_PRIVS) failed (errno {ctypes.get_errno()})")
        if libc.syscall(restrict, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            raise ConfineError(f"landlock_restrict_self failed (errno {ctypes.get_errno()})")
    finally:
        os.close(fd)
    return abi
