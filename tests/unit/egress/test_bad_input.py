"""Bad input gives a clear error or a finding, never a traceback or a silent pass."""

from __future__ import annotations

import os

import pytest

from cirn.egress.checks import ScanInputError, scan_paths
from cirn.egress.checks.identifiers import IdentifierListError, IdentifierSet

from egress_testing import locations


def test_invalid_json_notebook_is_blocked(scan):
    report = scan("broken.ipynb", '{"cells": [ {"cell_type": "code", ')
    assert report.kind == "notebook" and report.verdict.label == "block"
    assert locations(report, "blocked-type.unreadable-notebook") == ["file"]


def test_json_that_is_not_a_notebook_named_ipynb(scan):
    report = scan("list.ipynb", "[1, 2, 3]")
    assert report.verdict.label == "block"


def test_nonexistent_path_is_an_error(tmp_path):
    with pytest.raises(ScanInputError, match="does not exist"):
        scan_paths([tmp_path / "nope.csv"])


def test_dangling_link_is_an_error(tmp_path):
    (tmp_path / "out").mkdir()
    os.symlink(tmp_path / "gone.csv", tmp_path / "out" / "link.csv")
    with pytest.raises(ScanInputError, match="cannot be read"):
        scan_paths([tmp_path / "out"])


def test_unreadable_file_is_an_error(tmp_path, monkeypatch):
    path = tmp_path / "secret.csv"
    path.write_text("a,b\n1,2\n")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the read fail as it would for a user
        from pathlib import Path

        def refuse(self):
            raise PermissionError(13, "Permission denied", str(self))
        monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ScanInputError, match="secret.csv cannot be read"):
        scan_paths([path])


def test_fifo_is_blocked_without_reading(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    report = scan_paths([tmp_path])
    assert report.verdict.label == "block" and report.files[0].findings[0].check == "blocked-type.special-file"


def test_empty_file_and_empty_folder(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    report = scan_paths([tmp_path])
    assert report.files[0].verdict.label == "pass"
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert scan_paths([empty]).to_dict() == {"verdict": "pass", "files": []}


def test_identifier_list_errors_name_the_file(tmp_path):
    with pytest.raises(IdentifierListError, match="ids.txt does not exist"):
        IdentifierSet.from_file(tmp_path / "ids.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(IdentifierListError, match="cannot be read"):
        IdentifierSet.from_file(tmp_path / "bin.txt")


def test_garbage_csv_still_gets_checked_as_text(scan):
    report = scan("weird.csv", 'a,b\n"unterminated,1\n2,3\nSMP000777,4\n')
    assert report.verdict.label == "block"
