"""The checks run in worker processes: limits on memory, CPU time, wall time and output hold,
a file that breaks one is blocked naming it while other files are checked, and the workers run
unprivileged with nothing but the file's bytes, the policy and the identifiers."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cirn.egress.checks import IdentifierSet
from cirn.egress.checks.sandbox import SandboxError, ScanSandbox, worker_account
from cirn.policies.egress_rules import EgressPolicy, SandboxLimits, TableLimits
from cirn.state import StateFolder

from bombs import dictionary_parquet, gzip_text, many_members_zip

MiB = 1024 * 1024
# The Parquet caps are lifted so that only the sandbox stands between the file and the host.
TIGHT = EgressPolicy(sandbox=SandboxLimits(workers=3, memory_bytes=2560 * MiB, cpu_seconds=1, wall_seconds=6),
                     table_limits=TableLimits(max_cells=10**12, max_expanded_bytes=10**15))


@pytest.fixture(scope="module")
def sandbox():
    with ScanSandbox(TIGHT) as pool:
        pool.scan(b"warm up\n", "warm.txt")  # the first worker is ready; the others start alongside
        yield pool


def test_bomb_and_pathological_parquet_are_blocked_while_a_clean_file_is_checked(sandbox):
    bomb = gzip_text(20)  # 60 KB that opens into 20 MB of text: half a minute of CPU to check
    parquet = dictionary_parquet()  # 500 bytes, 10 GB once read
    clean = b"region,n\nSeoul,120\nBusan,85\n"
    done: dict[str, float] = {}

    def scan(name: str, data: bytes) -> list[dict]:
        t = time.monotonic()
        reports = sandbox.scan(data, name)
        done[name] = time.monotonic() - t
        return reports

    with ThreadPoolExecutor(3) as pool:
        bomb_f = pool.submit(scan, "notes.txt.gz", bomb)
        parquet_f = pool.submit(scan, "table.parquet", parquet)
        time.sleep(0.5)
        clean_f = pool.submit(scan, "counts.csv", clean)
        bomb_r, parquet_r, clean_r = bomb_f.result(60), parquet_f.result(60), clean_f.result(60)

    assert clean_r[0]["verdict"] == "pass", clean_r
    assert bomb_r[0]["verdict"] == "block"
    assert bomb_r[0]["findings"][0]["check"].startswith("size.sandbox-"), bomb_r
    assert parquet_r[0]["verdict"] == "block"
    # which limit it meets first depends on the machine's load: memory, or CPU time while decoding
    check = parquet_r[0]["findings"][0]["check"]
    assert check.startswith("size.sandbox-") or check == "blocked-type.unreadable-table", parquet_r
    assert done["notes.txt.gz"] < TIGHT.sandbox.wall_seconds + 5 and done["table.parquet"] < TIGHT.sandbox.wall_seconds + 5
    # the clean file did not wait for the bomb
    assert done["counts.csv"] < done["notes.txt.gz"]
    # the workers that broke a limit were replaced: the pool checks the next file as before
    report = sandbox.scan(b"sample SMP000777 sequenced\n", "notes.txt", IdentifierSet(["SMP000777"]))
    assert [f["check"] for f in report[0]["findings"]] == ["identifier.exact"]


def test_wall_time_limit_names_the_reason():
    policy = EgressPolicy(sandbox=SandboxLimits(workers=1, cpu_seconds=1, wall_seconds=1.0))
    with ScanSandbox(policy) as pool:
        pool.scan(b"warm up\n", "warm.txt")
        t = time.monotonic()
        report = pool.scan(gzip_text(20), "big.txt.gz")
        assert time.monotonic() - t < 10
        assert report[0]["findings"][0]["check"] in ("size.sandbox-cpu", "size.sandbox-timeout")
        assert pool.scan(b"fine\n", "ok.txt")[0]["verdict"] == "pass"


def test_output_limit_blocks_a_file_whose_report_is_too_large():
    policy = EgressPolicy(sandbox=SandboxLimits(workers=1, output_bytes=65536))
    with ScanSandbox(policy) as pool:
        report = pool.scan(many_members_zip(), "parts.zip", IdentifierSet(["SMP000777"]))
        assert [f["check"] for f in report[0]["findings"]] == ["size.sandbox-output"], report
        assert pool.scan(b"fine\n", "ok.txt")[0]["verdict"] == "pass"


@pytest.mark.skipif(os.geteuid() != 0, reason="switching accounts needs root")
def test_workers_run_unprivileged_and_cannot_read_the_state_folders_secrets():
    # A state folder the worker's account may walk into, so that only the secret's own mode protects it.
    root = Path(tempfile.mkdtemp(prefix="cirn-sandbox-state-", dir="/tmp"))
    root.chmod(0o755)
    try:
        state = StateFolder(root)
        state.secret("egress_cookie_secret")
        secret = state.secrets / "egress_cookie_secret"
        state.secrets.chmod(0o755)
        assert secret.read_text()  # the parent (root) reads it

        with ScanSandbox(EgressPolicy(sandbox=SandboxLimits(workers=1))) as pool:
            pool.scan(b"warm up\n", "warm.txt")
            pid = pool._all[0].proc.pid
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
            uid, gid = worker_account("nobody")
            assert status["Uid"].split() == [str(uid)] * 4 and status["Gid"].split() == [str(gid)] * 4
            assert status["Groups"].strip() == ""
            assert int(status["CapEff"], 16) == 0 and status["NoNewPrivs"].strip() == "1"
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert sorted(e.split(b"=")[0] for e in environ if e) == [b"HOME", b"LANG", b"MALLOC_ARENA_MAX", b"PATH"]
            assert os.readlink(f"/proc/{pid}/cwd") == "/"
            assert sorted(os.listdir(f"/proc/{pid}/fd"), key=int)[:3] == ["0", "1", "2"]
            opened = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
            assert not any(str(root) in target or target.endswith((".sqlite", ".db")) for target in opened)
            limits = Path(f"/proc/{pid}/limits").read_text()
            assert f"{EgressPolicy().sandbox.memory_bytes}" in next(l for l in limits.splitlines() if l.startswith("Max address space"))
            # that account cannot read the secret the parent can
            probe = subprocess.run(["/bin/cat", str(secret)], user=uid, group=gid, extra_groups=[],
                                   capture_output=True, text=True)
            assert probe.returncode != 0 and "Permission denied" in probe.stderr
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)


def test_root_is_refused_as_the_workers_account(monkeypatch):
    if os.geteuid() != 0:
        assert worker_account("root") is None  # not root: the workers keep this account
        return
    with pytest.raises(SandboxError, match="egress.sandbox.user"):
        worker_account("root")
    with pytest.raises(SandboxError, match="not an account"):
        worker_account("no-such-account-cirn")


def test_wall_time_below_cpu_time_is_refused():
    with pytest.raises(ValueError, match="wall_seconds"):
        EgressPolicy(sandbox=SandboxLimits(cpu_seconds=60, wall_seconds=30))


def _one_of_each_type() -> dict[str, bytes]:
    import bz2
    import io
    import lzma
    import zipfile

    import nbformat
    import openpyxl
    import polars as pl
    from pypdf import PdfWriter

    files = {
        "notes-cp949.txt": "환자 성명: 김민준 010-1234-5678 P0001234\n".encode("cp949"),
        "notes-latin1.txt": "Ünïcode é P0001234 rs12345 0/1 S0001\n".encode("latin-1"),
        "calls.vcf": b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t100\trs1\tA\tG\t.\t.\t.\n",
        "counts.csv.bz2": bz2.compress(b"region,n\nA,3\nB,40\n"),
        "counts.csv.xz": lzma.compress(b"region,n\nA,3\nB,40\n"),
        "figure.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><circle cx="1" cy="2" r="3"/></svg>',
        "figure.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
        "cohort.db": b"SQLite format 3\0" + b"\0" * 100,
        "table.html": b"<html><table><tr><th>g</th><th>n</th></tr><tr><td>a</td><td>4</td></tr></table></html>",
        "reads.fa": b">seq1\nACGTACGTACGTACGTACGTACGTACGTACGTACGT\n",
    }
    doc = io.BytesIO()
    with zipfile.ZipFile(doc, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document><w:p>patient P0001234</w:p></w:document>")
    files["letter.docx"] = doc.getvalue()
    wb = openpyxl.Workbook()
    wb.active.append(["region", "n"])
    wb.active.append(["A", 3])
    hidden = wb.create_sheet("ids")
    hidden.append(["id"])
    hidden.append(["P0001234"])
    hidden.sheet_state = "hidden"
    book = io.BytesIO()
    wb.save(book)
    files["counts.xlsx"] = book.getvalue()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plot()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "image/png": "iVBORw0KGgo=", "text/html": "<table><tr><th>n</th></tr><tr><td>3</td></tr></table>"})]
    nb.cells.append(cell)
    files["analysis.ipynb"] = nbformat.writes(nb).encode()
    pdf = PdfWriter()
    pdf.add_blank_page(100, 100)
    out = io.BytesIO()
    pdf.write(out)
    files["report.pdf"] = out.getvalue()
    table = io.BytesIO()
    pl.DataFrame({"sample": ["P0001234", "x"], "n": [3, 50]}).write_parquet(table)
    files["samples.parquet"] = table.getvalue()
    return files


def test_workers_report_what_the_checks_report_in_process_for_every_file_type(ctx):
    # As root the workers switch account after loading the engine; a module a check imports
    # only later (and that account cannot read) would show here as a difference.
    from cirn.egress.checks import scan_bytes

    with ScanSandbox(ctx.policy, workers=1) as pool:
        for name, data in _one_of_each_type().items():
            expected = [r.to_dict() for r in scan_bytes(data, name, ctx)]
            assert pool.scan(data, name, ctx.identifiers) == expected, name


CONFINED_PROBE = r"""
import os, socket, sys
from cirn.egress.checks.confine import deny_all
target, port = sys.argv[1], int(sys.argv[2])
open(target).read()  # readable before
abi = deny_all()
results = {"abi": abi}
try:
    open(target).read(); results["read"] = "allowed"
except OSError as exc:
    results["read"] = exc.errno
try:
    socket.create_connection(("127.0.0.1", port), 2).close(); results["connect"] = "allowed"
except OSError as exc:
    results["connect"] = exc.errno
results["stdin"] = sys.stdin.readline().strip()
print(results)
"""


@pytest.mark.skipif(__import__("cirn.egress.checks.confine", fromlist=["x"]).abi_version() < 4,
                    reason="this kernel has no Landlock with network rights")
def test_a_confined_worker_can_open_no_file_and_reach_no_port_even_as_root(tmp_path):
    import errno
    import socket

    secret = tmp_path / "readable-before"
    secret.write_text("x")
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        out = subprocess.run([__import__("sys").executable, "-c", CONFINED_PROBE, str(secret), str(listener.getsockname()[1])],
                             input="frames still flow\n", capture_output=True, text=True, timeout=60)
    finally:
        listener.close()
    assert out.returncode == 0, out.stderr
    results = eval(out.stdout)  # our own probe's dict
    assert results["abi"] >= 4
    assert results["read"] == errno.EACCES and results["connect"] == errno.EACCES
    assert results["stdin"] == "frames still flow"


def test_workers_confine_themselves_where_the_kernel_has_landlock(sandbox):
    from cirn.egress.checks.confine import abi_version

    assert all(w.landlock == abi_version() for w in sandbox._all if w.ready)
    assert sandbox.scan(b"region,n\nA,12\n", "t.csv")  # and still check files
