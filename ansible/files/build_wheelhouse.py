"""Build the enclave host's wheelhouse: the cirn wheel plus every dependency as a binary wheel.

    python build_wheelhouse.py REPO OUT.tar

The target is Debian 12's Python (CPython 3.11, glibc 2.36); the wheels are downloaded for that
platform whatever the staging host runs. OUT.tar holds one folder named like OUT (without .tar)
with the wheels and a `.complete` marker; it is written to a temporary name and renamed.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


def platforms() -> list[str]:
    arch = platform.machine()
    return [f"manylinux_2_{minor}_{arch}" for minor in range(36, 16, -1)] + [f"manylinux2014_{arch}", "any"]


def run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise SystemExit(f"{cmd[2:4]} failed (exit {proc.returncode}):\n{tail}")


def build(repo: Path, out: Path) -> None:
    name = out.name.removesuffix(".tar")
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        wheels = Path(tmp) / name
        wheels.mkdir()
        pip = [sys.executable, "-m", "pip"]
        try:
            run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(repo)])
        except SystemExit:  # no setuptools/wheel in this environment: let pip fetch them
            run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(repo)])
        cirn_wheel = next(wheels.glob("cirn-*.whl"))
        cmd = [*pip, "download", "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
               "--abi", "cp311", "--abi", "abi3", "--abi", "none"]
        for plat in platforms():
            cmd += ["--platform", plat]
        run([*cmd, "-d", str(wheels), str(cirn_wheel)])
        (wheels / ".complete").write_text(name + "\n")
        partial = out.with_suffix(".tar.partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(wheels, arcname=name)
        partial.rename(out)


if __name__ == "__main__":
    if len(sys.argv) != 3 or not sys.argv[2].endswith(".tar"):
        raise SystemExit("usage: build_wheelhouse.py REPO OUT.tar")
    build(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
