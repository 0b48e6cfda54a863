"""The offline image build: debootstrap base -> `docker import`, wheelhouse on the host, notebook image.

Each step is skipped when its output is already there and up to date, so `cirn images build`
is cheap to run again. The base rootfs tarball and the wheelhouse are cached outside the
repository (CIRN_CACHE, default ~/.cache/cirn) so that fresh clones on the same machine reuse them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
BASE_IMAGE = "cirn/base:bookworm"
NOTEBOOK_IMAGE = "cirn/notebook:latest"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# What the base needs beyond minbase: Python for the notebook venv, certificates, bash.
BASE_PACKAGES = ["python3", "python3-venv", "ca-certificates", "bash", "procps"]
PYTHON_VERSION = "3.11"  # bookworm's python3 (3.11.2)
INPUTS_LABEL = "org.cirn.inputs"


class BuildError(RuntimeError):
    """A build step failed; the message names the step and the tool's last output lines."""


def run(cmd: list[str], step: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a build command; its output is logged at debug on success, at error on failure."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        log.error("%s failed: %s\n%s", step, " ".join(cmd), tail)
        raise BuildError(f"{step} failed ({cmd[0]} exit {proc.returncode}):\n{tail}")
    log.debug("%s: %s", step, (proc.stdout + proc.stderr).strip()[-2000:])
    return proc


def cache_dir(environ=None) -> Path:
    env = os.environ if environ is None else environ
    path = Path(env.get("CIRN_CACHE") or Path.home() / ".cache" / "cirn")
    path.mkdir(parents=True, exist_ok=True)
    return path


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def image_label(tag: str, label: str) -> str | None:
    proc = subprocess.run(["docker", "image", "inspect", "-f", f'{{{{index .Config.Labels "{label}"}}}}', tag],
                          capture_output=True, text=True)
    value = proc.stdout.strip()
    return value if proc.returncode == 0 and value and value != "<no value>" else None


def base_tarball_path(cache: Path) -> Path:
    """Where the debootstrap rootfs is cached; the staging playbook packs it from here."""
    return cache / f"base-{SUITE}-{'-'.join(BASE_PACKAGES)}.tar"


def build_base(cache: Path, progress=print) -> str:
    """Import the base image from a debootstrap minbase rootfs (cached as a tarball)."""
    if image_exists(BASE_IMAGE):
        progress(f"base image {BASE_IMAGE} present")
        return BASE_IMAGE
    tarball = base_tarball_path(cache)
    if not tarball.exists():
        if shutil.which("debootstrap") is None:
            raise BuildError("debootstrap is not installed: apt-get install debootstrap (make setup does this)")
        progress(f"debootstrap {SUITE} (minbase) — a few minutes on a fresh machine")
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            rootfs = Path(tmp) / "rootfs"
            run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE,
                 str(rootfs), MIRROR], "debootstrap")
            # Package caches and lists are not needed in the image and would only grow it.
            for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for p in (rootfs / sub).glob("*"):
                    if p.is_file():
                        p.unlink()
            partial = tarball.with_suffix(".tar.partial")
            run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], "tar rootfs")
            partial.rename(tarball)
    progress(f"docker import {tarball.name} -> {BASE_IMAGE}")
    run(["docker", "import", "--change", "ENV PATH=/usr/local/bin:/usr/bin:/bin", "--change", "CMD [\"/bin/bash\"]",
         str(tarball), BASE_IMAGE], "docker import")
    return BASE_IMAGE


def wheel_platforms() -> list[str]:
    arch = platform.machine()
    return [f"manylinux_2_{minor}_{arch}" for minor in range(36, 16, -1)] + [f"manylinux2014_{arch}"]


def build_wheelhouse(cache: Path, requirements: Path, progress=print) -> Path:
    """Download binary wheels for the image's Python (3.11, glibc 2.36) into a cached folder."""
    digest = hashlib.sha256(requirements.read_bytes() + platform.machine().encode()).hexdigest()[:16]
    target = cache / f"wheelhouse-{digest}"
    if (target / ".complete").exists():
        progress(f"wheelhouse {target.name} present")
        return target
    progress("downloading the notebook image's wheels for Python 3.11 (bookworm)")
    partial = cache / f"wheelhouse-{digest}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--python-version", PYTHON_VERSION,
           "--implementation", "cp", "--abi", "cp311", "--abi", "abi3", "--abi", "none"]
    for plat in wheel_platforms() + ["any"]:
        cmd += ["--platform", plat]
    cmd += ["-d", str(partial), "-r", str(requirements)]
    run(cmd, "pip download (wheelhouse)")
    (partial / ".complete").write_text(digest)
    partial.rename(target)
    return target


def notebook_inputs_digest(base_id: str) -> str:
    h = hashlib.sha256(base_id.encode())
    for path in sorted((HERE / "notebook").iterdir()):
        if path.is_file():
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:20]


@dataclass
class BuildResult:
    base: str
    notebook: str
    rebuilt: bool


def build_all(progress=print, force: bool = False) -> BuildResult:
    cache = cache_dir()
    build_base(cache, progress)
    base_id = run(["docker", "image", "inspect", "-f", "{{.Id}}", BASE_IMAGE], "inspect base").stdout.strip()
    digest = notebook_inputs_digest(base_id)
    if not force and image_label(NOTEBOOK_IMAGE, INPUTS_LABEL) == digest:
        progress(f"notebook image {NOTEBOOK_IMAGE} up to date")
        return BuildResult(BASE_IMAGE, NOTEBOOK_IMAGE, False)
    wheels = build_wheelhouse(cache, HERE / "notebook" / "requirements.txt", progress)
    progress(f"docker build {NOTEBOOK_IMAGE}")
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        context = Path(tmp)
        for path in (HERE / "notebook").iterdir():
            if path.is_file():
                shutil.copy2(path, context / path.name)
        # Hard links keep a large wheelhouse from being copied for every build.
        shutil.copytree(wheels, context / "wheelhouse", copy_function=os.link)
        run(["docker", "build", "--build-arg", f"BASE={BASE_IMAGE}", "--label", f"{INPUTS_LABEL}={digest}",
             "-t", NOTEBOOK_IMAGE, str(context)], "docker build notebook image")
    return BuildResult(BASE_IMAGE, NOTEBOOK_IMAGE, True)
