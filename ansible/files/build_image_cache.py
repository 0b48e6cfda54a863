"""Pack the image build cache (CIRN_CACHE) for an enclave host with no Debian mirror and no index.

    python build_image_cache.py OUT_FOLDER

`cirn images build` needs two things from the network the first time: the base rootfs (made by
debootstrap from a Debian mirror) and the notebook image's wheelhouse (from the package index).
Both are cached in CIRN_CACHE (~/.cache/cirn); this packs them into one archive,
OUT_FOLDER/cirn-image-cache-<digest>.tar, for cirn_image_cache_archive. The site playbook unpacks
it into the host's CIRN_CACHE, where `cirn images build` finds both and fetches nothing.

Run it with a Python that has the cirn package of the same checkout as the wheelhouse (the
repository's virtualenv): the cache's names are derived from that code (the suite and packages of
the base, the notebook requirements). A missing wheelhouse is downloaded; a missing rootfs tarball
is made by debootstrap when the base image is not built yet.
"""

from __future__ import annotations

import hashlib
import sys
import tarfile
from pathlib import Path

from cirn.images import build as images


def base_tarball(cache: Path) -> Path:
    tarball = images.base_tarball_path(cache)
    if tarball.exists():
        return tarball
    if images.image_exists(images.BASE_IMAGE):
        raise SystemExit(
            f"{tarball} is missing but {images.BASE_IMAGE} is built, so `cirn images build` will not make it: "
            f"run `docker image rm {images.BASE_IMAGE}` and `cirn images build` on this staging host, then again")
    images.build_base(cache, progress=print)
    return tarball


def digest(tarball: Path, wheelhouse: Path) -> str:
    h = hashlib.sha256(wheelhouse.name.encode() + b"\0" + tarball.name.encode() + b"\0")
    with tarball.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()[:16]


def pack(out: Path) -> Path:
    cache = images.cache_dir()
    tarball = base_tarball(cache)
    wheelhouse = images.build_wheelhouse(cache, images.HERE / "notebook" / "requirements.txt", progress=print)
    archive = out / f"cirn-image-cache-{digest(tarball, wheelhouse)}.tar"
    if archive.exists():
        print(f"present: {archive}")
        return archive
    out.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".tar.partial")
    with tarfile.open(partial, "w") as tar:
        tar.add(tarball, arcname=tarball.name)
        tar.add(wheelhouse, arcname=wheelhouse.name)
    partial.rename(archive)
    print(f"packed: {archive}")
    return archive


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: build_image_cache.py OUT_FOLDER")
    pack(Path(sys.argv[1]).resolve())
