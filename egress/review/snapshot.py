"""Reading files out of a project workspace safely: no traversal, no symlink out, no special files.

The workspace is writable from inside the project container, so a path is resolved once and
then opened one component at a time with O_NOFOLLOW: a symlink swapped in after the check is
refused rather than followed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from cirn.errors import CirnError, Refused

from .store import ContentStore, Staged

MAX_PATH = 1000


class InvalidPath(CirnError):
    """A file name that cannot name a file inside the project workspace."""


def normalise(rel: str) -> str:
    """A workspace-relative POSIX path, or InvalidPath saying what is wrong with it."""
    if not isinstance(rel, str) or not rel.strip():
        raise InvalidPath("a file path is empty; give paths relative to the project folder")
    if len(rel) > MAX_PATH or "\x00" in rel or "\\" in rel or any(ord(c) < 32 for c in rel):
        raise InvalidPath(f"{rel[:80]!r} is not a usable file path")
    if rel.startswith("/"):
        raise InvalidPath(f"{rel!r} is absolute; give paths relative to the project folder")
    parts = [p for p in PurePosixPath(rel).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise InvalidPath(f"{rel!r} leaves the project folder ('..'); give a path inside it")
    return "/".join(parts)


def _open_inside(root: str, real: str) -> int:
    """Open `real` (a resolved path under `root`) component by component, never following a link."""
    rel_parts = os.path.relpath(real, root).split(os.sep)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in rel_parts[:-1]:
            nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nfd
        return os.open(rel_parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)


def stage_from_workspace(store: ContentStore, workspace: Path, rel: str, limit: int) -> tuple[str, Staged]:
    """Copy one workspace file into the store's staging area; returns (normalised path, staged blob)."""
    path = normalise(rel)
    root = os.path.realpath(workspace)
    real = os.path.realpath(os.path.join(root, path))
    if real == root or not real.startswith(root + os.sep):
        raise Refused(f"{path} points outside the project workspace (a symbolic link to {real!r}?); "
                      "only files inside the project folder can be released")
    try:
        fd = _open_inside(root, real)
    except FileNotFoundError:
        raise InvalidPath(f"{path} does not exist in the project folder") from None
    except (NotADirectoryError, IsADirectoryError):
        raise InvalidPath(f"{path} is not a file in the project folder") from None
    except PermissionError:
        # in production the review service reads workspaces through its account's group
        # (cirn.egress_access): a file its owner made private cannot be read for release
        raise InvalidPath(f"{path} cannot be read for review: its permissions keep it private; "
                          f"make it readable (chmod a+r {path}) and submit again") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: a link appeared after the check
            raise Refused(f"{path} changed into a symbolic link while it was read; submit again") from None
        raise InvalidPath(f"{path} cannot be read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InvalidPath(f"{path} is a folder; list the files in it")
        if not stat.S_ISREG(st.st_mode):
            raise Refused(f"{path} is not a regular file (device, pipe or socket); it cannot be released")
        if st.st_size > limit:
            from .store import TooLarge
            raise TooLarge(f"{path} is {st.st_size} bytes, over the size cap of {limit} bytes; make it "
                           "smaller (or split it) before asking for its release")
        return path, store.stage_fd(fd, limit, path)
    finally:
        os.close(fd)


def list_workspace(workspace: Path, limit_entries: int = 5000) -> list[dict]:
    """Files of the workspace for the file picker (no links followed, hidden folders skipped)."""
    root = Path(os.path.realpath(workspace))
    out: list[dict] = []
    if not root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not d.startswith("__pycache__"))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            full = Path(dirpath) / name
            try:
                st = full.lstat()
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            out.append({"path": full.relative_to(root).as_posix(), "size": st.st_size})
            if len(out) >= limit_entries:
                return out
    return out
