"""The Ansible role's cirn-backup and cirn-restore, rendered from their templates and run here on
a real state folder (SQLite, and PostgreSQL with a password): every part encrypted with age, the
secrets to a key holder apart from the data's, the password never on a command line, and a
restore that `cirn audit verify` accepts."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from cirn.enclave import Enclave

from ..db.server import createdb, postgresql_server

REPO = Path(__file__).resolve().parents[3]
TEMPLATES = REPO / "ansible" / "roles" / "backup" / "templates"
VENV = Path(sys.executable).parent.parent
PASSWORD = "a-long-database-password-7f3c"


def keypair(folder: Path, name: str) -> tuple[Path, str]:
    key = folder / f"{name}.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True).stdout.strip()
    return key, public


def render(name: str, dest: Path, **variables) -> Path:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined, trim_blocks=True,  # as Ansible renders
                             keep_trailing_newline=True)
    env.filters["quote"] = lambda v: shlex.quote(str(v))
    dest.write_text(env.get_template(f"{name}.j2").render(ansible_managed="test", **variables))
    dest.chmod(0o700)
    return dest


def cirn(home: Path, *args: str, db_url: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "CIRN_HOME": str(home)}
    if db_url:
        env["CIRN_DB_URL"] = db_url
    return subprocess.run([str(VENV / "bin" / "cirn"), *args], env=env, capture_output=True, text=True, check=check,
                          timeout=300)


class Backups:
    def __init__(self, tmp: Path, db_url: str | None = None):
        self.tmp, self.db_url = tmp, db_url
        self.home = tmp / "home"
        self.data_key, data_public = keypair(tmp, "data")
        self.keys_key, keys_public = keypair(tmp, "keys")
        etc = tmp / "etc"
        etc.mkdir()
        env = {"CIRN_HOME": str(self.home), **({"CIRN_DB_URL": db_url} if db_url else {})}
        (etc / "cirn.env").write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()))
        self.root = tmp / "backups"
        variables = dict(cirn_backup_dir=str(self.root), cirn_config_dir=str(etc), cirn_venv=str(VENV),
                         cirn_backup_keep=3, cirn_backup_include_datasets=True,
                         cirn_backup_recipients=[data_public], cirn_backup_key_recipients=[keys_public])
        self.backup = render("cirn-backup", tmp / "cirn-backup", **variables)
        self.restore = render("cirn-restore", tmp / "cirn-restore", **variables)

    def enclave_with_history(self) -> str:
        cirn(self.home, "init", db_url=self.db_url)
        cirn(self.home, "project", "create", "bk-study", "--title", "Backup check", "--expires", "2099-12-31",
             db_url=self.db_url)
        cirn(self.home, "project", "add-member", "bk-study", "alice", db_url=self.db_url)
        ws = self.home / "projects" / "bk-study" / "workspace"
        ws.mkdir(parents=True, exist_ok=True)
        (ws / "notes.txt").write_text("workspace-marker-51ab\n")
        return Enclave.from_env({"CIRN_HOME": str(self.home)}).state.secret("pseudonym-test-key")

    def run_backup(self, path_prefix: str = "") -> Path:
        env = {**os.environ, "PATH": f"{path_prefix}{os.environ['PATH']}"}
        done = subprocess.run([str(self.backup)], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        [folder] = self.root.glob("cirn-*")
        return folder

    def run_restore(self, backup: Path, target: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.restore), str(backup), str(target), *args], capture_output=True, text=True,
                              timeout=300)


def decrypt(path: Path, key: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["age", "--decrypt", "-i", str(key), str(path)], capture_output=True)


def members(tar_bytes: bytes) -> list[str]:
    return subprocess.run(["tar", "-t"], input=tar_bytes, capture_output=True, check=True).stdout.decode().split()


def check_backup_is_sealed(b: Backups, folder: Path, secret: str, db_file: str) -> None:
    files = {p.name for p in folder.iterdir()}
    assert files == {db_file, "state.tar.age", "secrets.tar.age", "audit.jsonl.age", "SHA256SUMS"}, files
    for p in folder.iterdir():  # nothing in the clear: not the key, not the workspace, not the log
        raw = p.read_bytes()
        assert secret.encode() not in raw and b"workspace-marker-51ab" not in raw and b"bk-study" not in raw, p
    state = decrypt(folder / "state.tar.age", b.data_key)
    assert state.returncode == 0
    assert not [m for m in members(state.stdout) if m.startswith("./secrets")]  # keys kept apart
    assert "./audit-anchor.log" in members(state.stdout)
    # The data's key does not open the secrets; the key custodian's does.
    assert decrypt(folder / "secrets.tar.age", b.data_key).returncode != 0
    assert "./secrets/pseudonym-test-key" in members(decrypt(folder / "secrets.tar.age", b.keys_key).stdout)


def check_restored(target: Path, secret: str, db_url: str | None = None) -> None:
    verify = cirn(target, "audit", "verify", db_url=db_url, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "alice" in cirn(target, "project", "show", "bk-study", db_url=db_url).stdout
    assert (target / "secrets" / "pseudonym-test-key").read_text().strip() == secret
    assert (target / "projects" / "bk-study" / "workspace" / "notes.txt").read_text() == "workspace-marker-51ab\n"
    assert oct(target.stat().st_mode & 0o777) == "0o700"


def test_sqlite_backup_is_encrypted_and_restores(tmp_path):
    b = Backups(tmp_path)
    secret = b.enclave_with_history()
    folder = b.run_backup()
    check_backup_is_sealed(b, folder, secret, "cirn.sqlite.age")
    # Without the key custodian's identity the restore stops, naming what it needs.
    partial = b.run_restore(folder, tmp_path / "partial", "--identity", str(b.data_key))
    assert partial.returncode != 0 and "key custodian" in partial.stderr
    assert b.run_restore(folder, tmp_path / "none").returncode != 0
    target = tmp_path / "restored"
    done = b.run_restore(folder, target, "--identity", str(b.data_key), "--identity", str(b.keys_key))
    assert done.returncode == 0, done.stderr
    check_restored(target, secret)
    # A damaged backup is refused before anything is decrypted.
    (folder / "state.tar.age").write_bytes((folder / "state.tar.age").read_bytes()[:100])
    damaged = b.run_restore(folder, tmp_path / "damaged", "--identity", str(b.data_key), "--identity", str(b.keys_key))
    assert damaged.returncode != 0 and "damaged" in damaged.stderr


@pytest.mark.db
def test_postgresql_backup_keeps_the_password_off_the_command_line_and_restores(tmp_path):
    with postgresql_server(password=PASSWORD) as url:
        b = Backups(tmp_path, db_url=url)
        secret = b.enclave_with_history()
        # A recording shim in front of the real pg_dump: what its command line and environment held.
        shim = tmp_path / "shim"
        shim.mkdir()
        real = subprocess.run(["bash", "-c", "command -v pg_dump"], capture_output=True, text=True).stdout.strip()
        (shim / "pg_dump").write_text(f"#!/bin/bash\nprintf '%s\\n' \"$@\" > {tmp_path}/argv\n"
                                      f"env > {tmp_path}/environ\nexec {real} \"$@\"\n")
        (shim / "pg_dump").chmod(0o755)
        folder = b.run_backup(path_prefix=f"{shim}:")
        argv = (tmp_path / "argv").read_text()
        assert "--dbname=postgresql://cirn@127.0.0.1" in argv and PASSWORD not in argv
        assert "PGPASSFILE=" in (tmp_path / "environ").read_text()
        assert not Path([line for line in (tmp_path / "environ").read_text().splitlines()
                         if line.startswith("PGPASSFILE=")][0].partition("=")[2]).exists()  # gone after the run
        check_backup_is_sealed(b, folder, secret, "cirn.pgdump.age")
        restored_url = createdb(url, "cirn_restored", PASSWORD)
        target = tmp_path / "restored"
        done = subprocess.run([str(b.restore), str(folder), str(target), "--identity", str(b.data_key),
                               "--identity", str(b.keys_key), "--db-url", restored_url.replace(f":{PASSWORD}", "")],
                              capture_output=True, text=True, timeout=300, env={**os.environ, "PGPASSWORD": PASSWORD})
        assert done.returncode == 0, done.stderr
        check_restored(target, secret, db_url=restored_url)
