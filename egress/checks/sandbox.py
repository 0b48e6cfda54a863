"""Checking files in worker processes: unprivileged, limited in memory, CPU time, output and
wall time, holding nothing but the file's bytes, the policy and the project's identifiers.

`ScanSandbox(policy)` starts `policy.sandbox.workers` processes once (each loads the checks
engine, then drops to the policy's account when started as root; cirn.egress.checks.sandbox_worker)
and reuses them for every file. `scan(data, name, identifiers)` returns the same report dicts as
`scan_bytes(...)`; a file that breaks a limit comes back blocked with a `size.sandbox-*` finding
naming the limit, and its worker is replaced. Any number of threads may call `scan` at once: each
waits for an idle worker, so the pool bounds how many files are checked at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pwd
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from cirn.errors import CirnError
from cirn.policies.egress_rules import EgressPolicy

from .findings import FileReport, Finding, Verdict
from .identifiers import IdentifierSet
from .sniff import sniff

log = logging.getLogger("cirn.egress.checks.sandbox")

READY_SECONDS = 300.0  # loading the engine (Presidio) on a busy host; not a per-file limit
# MALLOC_ARENA_MAX: glibc reserves 64 MB of address space per thread arena, and RLIMIT_AS counts
# reservations; with two arenas the limit measures memory in use, not the thread count.
WORKER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent", "MALLOC_ARENA_MAX": "2"}


class SandboxError(CirnError):
    """A checks worker process could not be started (for example the account to run it as is unknown)."""


class _Limit(Exception):
    """A file broke a sandbox limit: the check id and the message of its finding."""

    def __init__(self, check: str, message: str):
        super().__init__(message)
        self.check, self.message = check, message


@dataclass
class _Worker:
    proc: subprocess.Popen
    ready: bool = False
    landlock: int = 0  # the Landlock ABI the worker confined itself with (0: none on this kernel)
    contexts: set[str] = field(default_factory=set)
    buffer: bytearray = field(default_factory=bytearray)


def can_switch_accounts() -> bool:
    """Root, or an account holding CAP_SETUID and CAP_SETGID (bits 7 and 6 of CapEff)."""
    if os.geteuid() == 0:
        return True
    try:
        status = dict(line.split(":", 1) for line in open("/proc/self/status", encoding="ascii"))
        return int(status["CapEff"], 16) & 0xC0 == 0xC0
    except (OSError, KeyError, ValueError):
        return False


def worker_account(name: str) -> tuple[int, int] | None:
    """(uid, gid) the workers switch to, when this process may switch accounts; never root.
    Otherwise None: the workers keep this process's account (limits and clean environment still hold)."""
    if not can_switch_accounts():
        return None
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        raise SandboxError(f"egress.sandbox.user {name!r} is not an account on this host; "
                           "create it (e.g. useradd --system cirn-checks) or name another") from None
    if entry.pw_uid == 0:
        raise SandboxError(f"egress.sandbox.user {name!r} is root; the checks must run as an unprivileged account")
    return entry.pw_uid, entry.pw_gid


def _frame(payload: bytes) -> bytes:
    return struct.pack(">Q", len(payload)) + payload


class ScanSandbox:
    def __init__(self, policy: EgressPolicy | None = None, workers: int | None = None, python: str = sys.executable):
        self.policy = policy or EgressPolicy()
        self.limits = self.policy.sandbox
        self.python = python
        self.account = worker_account(self.limits.user)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(workers or self.limits.workers):
            self._idle.put(self._start())

    # -- the pool -------------------------------------------------------------------------
    def _start(self) -> _Worker:
        # -I: no PYTHON* variables, no user site, no current folder on the path; -B: no .pyc writes
        proc = subprocess.Popen([self.python, "-I", "-B", "-m", "cirn.egress.checks.sandbox_worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=dict(WORKER_ENV), cwd="/", close_fds=True, start_new_session=True)
        uid, gid = self.account or (None, None)
        setup = {"policy": self.policy.model_dump(mode="json"), "uid": uid, "gid": gid}
        proc.stdin.write(_frame(json.dumps(setup).encode()))
        proc.stdin.flush()
        worker = _Worker(proc)
        with self._lock:
            self._all.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        self._kill(worker)
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        return self._start()

    @staticmethod
    def _kill(worker: _Worker) -> None:
        try:
            os.killpg(worker.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            worker.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not wait
            pass
        for stream in (worker.proc.stdin, worker.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers, self._all = list(self._all), []
        for worker in workers:
            try:
                worker.proc.stdin.close()  # end of input: the worker exits
                worker.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._kill(worker)

    def __enter__(self) -> "ScanSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one file -------------------------------------------------------------------------
    def scan(self, data: bytes, name: str, identifiers: IdentifierSet | None = None) -> list[dict]:
        """The report dicts of one file (and its archive members), checked in a worker."""
        if self._closed:
            raise SandboxError("the checks sandbox is closed")
        words = identifiers.words() if identifiers else []
        key = hashlib.sha256("\n".join(words).encode()).hexdigest()
        worker = self._idle.get()
        try:
            if not worker.ready:
                try:
                    self._await_ready(worker)
                except SandboxError:
                    worker = self._replace(worker)  # the next file tries a fresh worker
                    raise
            try:
                if key not in worker.contexts:
                    self._send(worker, {"op": "context", "key": key, "identifiers": words})
                    worker.contexts.add(key)
                self._send(worker, {"op": "scan", "key": key, "name": name}, data)
                reply = self._receive(worker, time.monotonic() + self.limits.wall_seconds, self.limits.output_bytes)
            except _Limit as limit:
                worker = self._replace(worker)
                return [blocked(data, name, limit.check, limit.message)]
            if "reports" in reply:
                return _valid(reply["reports"], data, name)
            if reply.get("limit") == "memory":
                worker = self._replace(worker)
                return [blocked(data, name, "size.sandbox-memory",
                                f"checking it needed more than the {self.limits.memory_bytes} bytes of memory a check may use")]
            return [blocked(data, name, "blocked-type.check-failed",
                            f"the automatic checks could not read this file ({reply.get('error', 'no answer')}); "
                            "a reviewer must not approve it without an override reason")]
        finally:
            self._idle.put(worker)

    def _await_ready(self, worker: _Worker) -> None:
        try:
            reply = self._receive(worker, time.monotonic() + READY_SECONDS, 4096, starting=True)
        except _Limit as limit:
            raise SandboxError(f"a checks worker did not start: {limit.message}") from None
        if not reply.get("ready") or (self.account and reply.get("uid") == 0):
            raise SandboxError(f"a checks worker did not start: {reply}")
        worker.ready, worker.landlock = True, int(reply.get("landlock") or 0)

    def _send(self, worker: _Worker, header: dict, data: bytes | None = None) -> None:
        try:
            worker.proc.stdin.write(_frame(json.dumps(header, ensure_ascii=False).encode()))
            if data is not None:
                worker.proc.stdin.write(_frame(data))
            worker.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died(worker) from None

    def _receive(self, worker: _Worker, deadline: float, cap: int, starting: bool = False) -> dict:
        head = self._read(worker, 8, deadline, starting)
        (size,) = struct.unpack(">Q", head)
        if size > cap:
            raise _Limit("size.sandbox-output", f"the checks' report on it is {size} bytes, over the limit of {cap} bytes")
        try:
            return json.loads(self._read(worker, size, deadline, starting))
        except ValueError:
            raise _Limit("blocked-type.check-failed", "the checks' worker answered with something that is not a report") from None

    def _read(self, worker: _Worker, n: int, deadline: float, starting: bool) -> bytes:
        fd = worker.proc.stdout.fileno()
        buf = worker.buffer
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Limit("size.sandbox-timeout", "the worker did not start in time" if starting else
                             f"checking it took longer than the limit of {self.limits.wall_seconds:g} seconds")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, max(65536, n - len(buf)))
            if not chunk:
                raise self._died(worker)
            buf.extend(chunk)
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def _died(self, worker: _Worker) -> _Limit:
        try:
            code = worker.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        if code == -signal.SIGXCPU:
            return _Limit("size.sandbox-cpu", f"checking it took more than the limit of {self.limits.cpu_seconds} CPU seconds")
        if code in (-signal.SIGKILL, -signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS):
            # native code that cannot allocate aborts; the kernel's OOM killer sends SIGKILL
            return _Limit("size.sandbox-memory", f"the worker checking it stopped ({signal.Signals(-code).name}), "
                          f"most likely at the limit of {self.limits.memory_bytes} bytes of memory")
        return _Limit("blocked-type.check-failed", f"the worker checking it stopped (exit status {code})")


def blocked(data: bytes, name: str, check: str, message: str) -> dict:
    return FileReport(name, hashlib.sha256(data).hexdigest(), sniff(data[:65536], name).kind,
                      [Finding(check, Verdict.BLOCK, "file", message)]).to_dict()


def _valid(reports: list, data: bytes, name: str) -> list[dict]:
    """The worker's reports, rebuilt through FileReport so that what it sent is checked."""
    try:
        rebuilt = [report_from_dict(r).to_dict() for r in reports]
    except (KeyError, TypeError, ValueError) as exc:
        return [blocked(data, name, "blocked-type.check-failed", f"the checks' worker sent a malformed report ({exc})")]
    return rebuilt or [blocked(data, name, "blocked-type.check-failed", "the checks' worker sent no report")]


def report_from_dict(d: dict) -> FileReport:
    return FileReport(str(d["path"]), str(d["sha256"]), str(d["kind"]),
                      [Finding(str(f["check"]), Verdict.parse(str(f["severity"])), str(f["location"]), str(f["message"]))
                       for f in d["findings"]])
