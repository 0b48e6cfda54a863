"""A throwaway PostgreSQL server (Debian's postgresql) for the tests that need one."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from cirn.hub.harness import free_port


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail("PostgreSQL server binaries are missing: make setup installs Debian's postgresql")
    return found[-1]


@contextmanager
def postgresql_server(password: str | None = None) -> Iterator[str]:
    """Start a server with role and database `cirn`; yield its SQLAlchemy URL. With `password`,
    the server asks for it (scram-sha-256) and the URL carries it; without, it trusts."""
    # Not under pytest's tmp folder: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="cirn-pg-"))
    data = root / "data"
    shutil.chown(root, "postgres")
    os.chmod(root, 0o755)
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"]
    auth = ["-A", "trust"]
    if password:
        pwfile = root / "pw"
        pwfile.write_text(password + "\n")
        shutil.chown(pwfile, "postgres")
        auth = ["-A", "scram-sha-256", f"--pwfile={pwfile}"]
    subprocess.run(as_pg + [pg_bin("initdb"), "-D", str(data), *auth, "-U", "cirn"], check=True,
                   capture_output=True)
    subprocess.run(as_pg + [pg_bin("pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                            f"-p {port} -h 127.0.0.1 -k {root}", "start"], check=True, capture_output=True)
    env = {**os.environ, "PGPASSWORD": password or ""}
    try:
        subprocess.run([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "cirn", "cirn"],
                       check=True, capture_output=True, env=env)
        secret = f":{password}" if password else ""
        yield f"postgresql+psycopg://cirn{secret}@127.0.0.1:{port}/cirn"
    finally:
        subprocess.run(as_pg + [pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def createdb(url: str, name: str, password: str | None = None) -> str:
    """Create an empty database `name` on the server of `url`; return its URL."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    subprocess.run([pg_bin("createdb"), "-h", u.host, "-p", str(u.port), "-U", u.username, name], check=True,
                   capture_output=True, env={**os.environ, "PGPASSWORD": password or ""})
    return u.set(database=name).render_as_string(hide_password=False)
