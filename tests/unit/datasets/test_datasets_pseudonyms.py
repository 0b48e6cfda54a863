"""Pseudonyms: stable within a project, different across projects, keyed (not computable without the key)."""

from __future__ import annotations

import hashlib
import os

from cirn.datasets.pseudonyms import Pseudonymiser, key_path, project_key, pseudonym


def test_stable_within_a_project(state):
    key = project_key(state, "proj-a")
    assert project_key(state, "proj-a") == key  # the key is created once and reused
    assert pseudonym(key, "sample", "SMP000001") == pseudonym(key, "sample", "SMP000001")
    ps = Pseudonymiser(key)
    assert ps("sample", "SMP000001") == pseudonym(key, "sample", "SMP000001")
    assert ps("sample", None) is None


def test_different_across_projects_and_namespaces(state):
    a, b = project_key(state, "proj-a"), project_key(state, "proj-b")
    assert a != b
    assert pseudonym(a, "participant", "RD1") != pseudonym(b, "participant", "RD1")
    assert pseudonym(a, "participant", "RD1") != pseudonym(a, "sample", "RD1")
    assert pseudonym(a, "participant", "RD1").startswith("P-")
    assert pseudonym(a, "sample", "S1").startswith("S-") and len(pseudonym(a, "sample", "S1")) == 18


def test_not_reversible_without_the_key(state):
    key = project_key(state, "proj-a")
    target = pseudonym(key, "participant", "RD000042")
    candidates = [f"RD{i:06d}" for i in range(1000)]
    # Someone who knows every candidate id and the algorithm, but not the key, finds nothing:
    wrong_key = bytes(32)
    assert target not in {pseudonym(wrong_key, "participant", c) for c in candidates}
    for c in candidates:  # and no unkeyed hash of the id gives it away
        assert hashlib.sha256(c.encode()).hexdigest()[:16].upper() not in target
    # The admin, with the key, reproduces the mapping.
    assert [c for c in candidates if pseudonym(key, "participant", c) == target] == ["RD000042"]


def test_key_is_kept_in_secrets_owner_only(state):
    project_key(state, "proj-a")
    path = key_path(state, "proj-a")
    assert state.secrets in path.parents
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    assert not any(state.project_dir("proj-a").rglob("*.key")) if state.project_dir("proj-a").exists() else True
