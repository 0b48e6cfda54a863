"""Archives are opened and their members scanned as `archive!/inner/path`, within limits."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

from cirn.egress.checks.context import ScanContext
from cirn.egress.checks.scan import scan_file
from cirn.policies.egress_rules import ArchiveLimits, EgressPolicy

from egress_testing import locations, only


def _zip(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tgz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_zip_members_are_scanned_and_named(scan):
    reports = scan.all("release.zip", _zip({"out/table.csv": "group,n\nA,3\nB,40\n", "out/readme.txt": "fine"}))
    by_path = {r.path.split("/")[-1] if "!" not in r.path else r.path.split("!/")[1]: r for r in reports}
    assert reports[0].kind == "archive" and reports[0].verdict.label == "pass"
    member = by_path["out/table.csv"]
    assert member.path.endswith("release.zip!/out/table.csv")
    assert locations(member, "small-count.threshold") == ["row 1, column 'n'"]
    assert by_path["out/readme.txt"].verdict.label == "pass"


def test_nested_archives_and_genomic_member(scan):
    inner = _tgz({"calls/sample.txt": b"##fileformat=VCFv4.2\n#CHROM\tPOS\n"})
    reports = scan.all("outer.zip", _zip({"inner.tar.gz": inner}))
    paths = [r.path.split("outer.zip")[1] for r in reports]
    assert paths == ["", "!/inner.tar.gz", "!/inner.tar.gz!/calls/sample.txt"]
    assert only(reports[2], "genomic-file.vcf")


def test_gzip_single_file(scan):
    reports = scan.all("ids.txt.gz", gzip.compress(b"subject SMP000777\n"))
    assert reports[1].path.endswith("ids.txt.gz!/ids.txt")
    assert locations(reports[1], "identifier.exact") == ["line 1, col 9"]


def test_truncated_zip_is_blocked_not_passed(scan):
    data = _zip({"a.csv": "group,n\nA,30\n" * 50})
    report = scan("broken.zip", data[: len(data) // 2])
    assert report.verdict.label == "block"
    assert locations(report, "archive.corrupt") == ["file"]


def test_truncated_tar_gz_is_blocked(scan):
    data = _tgz({"a.txt": b"x" * 100000, "b.txt": b"y" * 100000})
    reports = scan.all("broken.tar.gz", data[: len(data) // 2])
    assert reports[0].verdict.label == "block" and only(reports[0], "archive.")


def test_limits_against_bombs(tmp_path):
    policy = EgressPolicy(archive=ArchiveLimits(max_depth=1, max_members=2, max_expanded_bytes=10_000, max_ratio=50))
    ctx = ScanContext(policy)
    (tmp_path / "many.zip").write_bytes(_zip({f"f{i}.txt": "ok" for i in range(5)}))
    assert locations(scan_file(str(tmp_path / "many.zip"), ctx)[0], "archive.members") == ["file"]
    (tmp_path / "deep.zip").write_bytes(_zip({"inner.zip": _zip({"a.txt": "ok"})}))
    deep = scan_file(str(tmp_path / "deep.zip"), ctx)
    assert locations(deep[1], "archive.depth") == ["file"]
    (tmp_path / "big.zip").write_bytes(_zip({"zeros.txt": b"0" * 50_000}))
    big = scan_file(str(tmp_path / "big.zip"), ctx)[0]
    assert big.verdict.label == "block" and only(big, "archive.expanded-size")
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(b"\x00" * 200_000))
    assert only(scan_file(str(tmp_path / "bomb.gz"), ctx)[0], "archive.expanded-size")


def test_ratio_bomb_member(tmp_path):
    ctx = ScanContext(EgressPolicy(archive=ArchiveLimits(max_ratio=100)))
    (tmp_path / "bomb.zip").write_bytes(_zip({"zeros.bin": b"\x00" * (4 * 1024 * 1024)}))
    report = scan_file(str(tmp_path / "bomb.zip"), ctx)[0]
    assert locations(report, "archive.bomb") == ["member 'zeros.bin'"]


def test_encrypted_member_is_blocked(scan):
    data = bytearray(_zip({"secret.txt": "hello"}))
    # set the 'encrypted' flag bit in the local and central headers
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        pos = data.find(sig)
        flag_at = pos + (6 if sig == b"PK\x03\x04" else 8)
        data[flag_at] |= 0x1
    report = scan("enc.zip", bytes(data))
    assert locations(report, "archive.encrypted") == ["member 'secret.txt'"]
