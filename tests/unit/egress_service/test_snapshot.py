"""Paths that leave the workspace, symlinks out of it, special files and files over the cap are refused,
and nothing is written when any file of a submission is refused."""

from __future__ import annotations

import os

import pytest

from cirn.errors import Refused
from cirn.egress.review.desk import InvalidSubmission
from cirn.egress.review.snapshot import InvalidPath, normalise, stage_from_workspace
from cirn.egress.review.store import ContentStore, TooLarge


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "", "a\x00b", "..", "a\\..\\b"])
def test_paths_that_leave_or_cannot_name_a_file_are_refused(bad):
    with pytest.raises(InvalidPath):
        normalise(bad)


def test_normalise_keeps_inner_paths():
    assert normalise("./out//t.csv") == "out/t.csv"


def test_symlinks_out_of_the_workspace_are_refused(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (ws / "link.txt").symlink_to(tmp_path / "secret.txt")
    (ws / "dirlink").symlink_to(tmp_path)
    store = ContentStore(tmp_path / "store")
    for name in ("link.txt", "dirlink/secret.txt"):
        with pytest.raises(Refused, match="outside the project workspace"):
            stage_from_workspace(store, ws, name, 1000)


def test_symlinks_inside_the_workspace_are_followed(tmp_path):
    ws = tmp_path / "ws"
    (ws / "out").mkdir(parents=True)
    (ws / "out" / "t.txt").write_text("inside")
    (ws / "alias.txt").symlink_to(ws / "out" / "t.txt")
    path, staged = stage_from_workspace(ContentStore(tmp_path / "store"), ws, "alias.txt", 1000)
    assert path == "alias.txt" and staged.tmp.read_text() == "inside"


def test_special_files_and_folders_are_refused(tmp_path):
    ws = tmp_path / "ws"
    (ws / "folder").mkdir(parents=True)
    os.mkfifo(ws / "pipe")
    store = ContentStore(tmp_path / "store")
    with pytest.raises(Refused, match="not a regular file"):
        stage_from_workspace(store, ws, "pipe", 1000)
    with pytest.raises(InvalidPath, match="folder"):
        stage_from_workspace(store, ws, "folder", 1000)


def test_files_over_the_cap_are_refused(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "big.bin").write_bytes(b"x" * 2000)
    with pytest.raises(TooLarge, match="size cap of 1000"):
        stage_from_workspace(ContentStore(tmp_path / "store"), ws, "big.bin", 1000)


def _store_files(desk):
    return [p for p in desk.store.root.rglob("*") if p.is_file()]


def test_one_bad_file_means_nothing_is_written(desk, people, ws, tmp_path):
    (ws / "good.txt").write_text("fine")
    (tmp_path / "outside.txt").write_text("no")
    (ws / "bad.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(Refused):
        desk.submit(people["alice"], "alpha", [{"path": "good.txt"}, {"path": "bad.txt"}], "why")
    assert _store_files(desk) == [] and desk.list_for(people["alice"]) == []


def test_a_malformed_notebook_is_refused_and_nothing_is_written(desk, people, ws):
    (ws / "good.txt").write_text("fine")
    (ws / "broken.ipynb").write_text('{"cells": [ {"cell_type": "code"')
    with pytest.raises(InvalidSubmission, match="not a valid notebook"):
        desk.submit(people["alice"], "alpha", [{"path": "good.txt"}, {"path": "broken.ipynb"}], "why")
    assert _store_files(desk) == [] and desk.list_for(people["alice"]) == []


def test_a_container_token_speaks_for_its_own_project_only(desk, ws):
    (ws / "a.txt").write_text("x")
    person = desk.person("alice", container_project="beta")
    with pytest.raises(Refused, match="belongs to project 'beta'"):
        desk.submit(person, "alpha", [{"path": "a.txt"}], "why")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another account")
def test_a_file_its_owner_made_private_is_refused_naming_what_to_do():
    """In production the service reads workspaces through its group (cirn.egress_access); a
    file made 0600 by the researcher cannot be read, and the error says how to release it."""
    import pwd
    import shutil
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="cirn-private-", dir="/tmp"))
    try:
        root.chmod(0o755)
        ws = root / "ws"
        ws.mkdir(mode=0o755)
        (ws / "private.csv").write_text("region,n\nSeoul,120\n")
        (ws / "private.csv").chmod(0o600)
        store_dir = root / "store"
        store_dir.mkdir(mode=0o777)
        nobody = pwd.getpwnam("nobody")
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child acts as the service's account
            try:
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                stage_from_workspace(ContentStore(store_dir), ws, "private.csv", 1000)
                message = "staged"
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
            os.write(write_end, message.encode())
            os._exit(0)
        os.close(write_end)
        os.waitpid(pid, 0)
        message = os.read(read_end, 4096).decode()
        os.close(read_end)
        assert message.startswith("InvalidPath: private.csv cannot be read for review"), message
        assert "chmod a+r private.csv" in message
    finally:
        shutil.rmtree(root, ignore_errors=True)
