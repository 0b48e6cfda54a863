"""`cirn egress scan` against the contract: exit codes, one JSON object on stdout, one-line
errors on stderr. A few cases run the real installed command in a subprocess; the rest use
click's runner in-process, since every `cirn` start costs seconds of imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

CIRN = Path(sys.executable).with_name("cirn")
KINDS = {"notebook", "table", "text", "image", "genomic", "archive", "document", "binary"}
CATEGORIES = {"small-count", "dominance", "identifier", "pii", "genomic-file", "genotype", "rare-variant",
              "individual-level", "image", "blocked-type", "archive", "size", "hidden-content"}


def _env(cwd, env_extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CIRN_PROJECT", "CIRN_POLICY")}
    env.update({"CIRN_HOME": str(cwd or "."), **(env_extra or {})})
    return env


def run_real(*args, cwd=None, env_extra=None):
    """The installed `cirn` executable, as an outside test suite runs it."""
    return subprocess.run([str(CIRN), "egress", "scan", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=_env(cwd, env_extra), timeout=300)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(*args, cwd=None, env_extra=None) -> Result:
    """The same command in-process."""
    from click.testing import CliRunner

    from cirn.cli import main
    old = os.getcwd()
    os.chdir(cwd)
    try:
        env = _env(cwd, env_extra)
        env.update({k: None for k in ("CIRN_PROJECT", "CIRN_POLICY") if k not in env})
        result = CliRunner().invoke(main, ["egress", "scan", *map(str, args)], env=env)
    finally:
        os.chdir(old)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def assert_contract_shape(doc: dict) -> None:
    assert set(doc) == {"verdict", "files"} and doc["verdict"] in {"pass", "review", "block"}
    for f in doc["files"]:
        assert set(f) == {"path", "sha256", "kind", "verdict", "findings"}
        assert f["kind"] in KINDS and len(f["sha256"]) == 64
        for finding in f["findings"]:
            assert set(finding) == {"check", "severity", "location", "message"}
            assert finding["check"].split(".", 1)[0] in CATEGORIES and "." in finding["check"]
            assert finding["severity"] in {"pass", "review", "block"}
        order = ["pass", "review", "block"]
        assert f["verdict"] == max((x["severity"] for x in f["findings"]), key=order.index, default="pass")


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    out = root / "out"
    out.mkdir()
    (out / "table.csv").write_text("group,M,F\nA,12,30\nB,25,3\n")
    (out / "fine.csv").write_text("group,M,F\nA,12,30\nB,25,13\n")
    (out / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "ids.txt").write_text("P0001234\n")
    (out / "log.txt").write_text("done P0001234\n")
    return root


def test_block_exit_20_and_json_contract(release):
    proc = run_real("--format", "json", "out/table.csv", cwd=release)
    assert proc.returncode == 20, proc.stderr
    doc = json.loads(proc.stdout)
    assert_contract_shape(doc)
    assert doc["verdict"] == "block"
    assert doc["files"][0]["path"] == "out/table.csv" and doc["files"][0]["kind"] == "table"
    assert doc["files"][0]["findings"] == [{"check": "small-count.threshold", "severity": "block",
                                            "location": "row 2, column 'F'", "message": "count 3 is below 10"}]


def test_pass_exit_0_and_review_exit_10(release):
    passed = run("--format", "json", "out/fine.csv", cwd=release)
    assert passed.returncode == 0 and json.loads(passed.stdout)["verdict"] == "pass"
    review = run("--format", "json", "out/fig.png", "out/fine.csv", cwd=release)
    assert review.returncode == 10 and json.loads(review.stdout)["verdict"] == "review"


def test_folder_identifiers_and_text_format(release):
    proc = run("--identifiers", "ids.txt", "--format", "json", "out", cwd=release)
    doc = json.loads(proc.stdout)
    assert_contract_shape(doc)
    assert proc.returncode == 20
    assert [f["path"] for f in doc["files"]] == ["out/fig.png", "out/fine.csv", "out/log.txt", "out/table.csv"]
    log = next(f for f in doc["files"] if f["path"] == "out/log.txt")
    assert log["findings"][0]["check"] == "identifier.exact" and log["findings"][0]["location"] == "line 1, col 6"
    text = run_real("out/fine.csv", cwd=release)
    assert text.returncode == 0 and "PASS" in text.stdout


@pytest.mark.parametrize("args,needle", [
    (["does-not-exist.csv"], "does not exist"),
    (["--identifiers", "missing-ids.txt", "out"], "missing-ids.txt"),
    (["--policy", "missing.yaml", "out"], "missing.yaml"),
    (["--format", "xml", "out"], "--format"),
    ([], "PATH"),
])
def test_errors_are_one_line_on_stderr_with_another_code(release, args, needle):
    proc = run(*args, cwd=release)
    assert proc.returncode not in (0, 10, 20)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr


def test_policy_file_changes_threshold(release):
    policy = release / "strict.yaml"
    shipped = (Path(__file__).parents[3] / "policies" / "enclave.yaml").read_text()
    policy.write_text(shipped.replace("min_count: 10 ", "min_count: 20 "))
    proc = run("--policy", policy, "--format", "json", "out/fine.csv", cwd=release)
    assert proc.returncode == 20, proc.stderr
    assert json.loads(proc.stdout)["files"][0]["findings"][0]["message"] == "count 12 is below 20"


def test_project_context_uses_the_project_pseudonyms(release):
    project = release / "projects" / "demo"
    project.mkdir(parents=True)
    (project / "egress-identifiers.txt").write_text("P0001234\n")
    proc = run("--format", "json", "out/log.txt", cwd=release, env_extra={"CIRN_PROJECT": "demo", "CIRN_HOME": str(release)})
    assert proc.returncode == 20 and "identifier.exact" in proc.stdout


def test_real_command_error_is_one_line(release):
    proc = run_real("does-not-exist.csv", cwd=release)
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["error: does-not-exist.csv does not exist; give files or folders to scan"]


def test_project_context_without_an_identifier_list_holds_every_file(release):
    """Issue 22: a project whose identifier list is missing is not scanned silently without it."""
    (release / "projects" / "nolist").mkdir(parents=True)
    proc = run("--format", "json", "out/fine.csv", cwd=release,
               env_extra={"CIRN_PROJECT": "nolist", "CIRN_HOME": str(release)})
    assert proc.returncode == 10, proc.stderr
    [f] = json.loads(proc.stdout)["files"]
    assert f["verdict"] == "review" and [x["check"] for x in f["findings"]] == ["identifier.list-missing"]
    # an explicit --identifiers list needs no project list
    proc = run("--identifiers", release / "ids.txt", "out/fine.csv", cwd=release,
               env_extra={"CIRN_PROJECT": "nolist", "CIRN_HOME": str(release)})
    assert proc.returncode == 0, proc.stdout
