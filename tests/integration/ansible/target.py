"""The disposable systemd target of the Ansible tests and the staging step, shared by the tests here.

See test_deploy.py's docstring for how the target is built and why it uses the host's engine.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

from cirn.images.build import cache_dir

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_DIR = REPO / "ansible"
HERE = Path(__file__).parent
TARGET_IMAGE = "cirn-test/ansible-target:bookworm"
HUB_API_PORT, EGRESS_API_PORT, METER_API_PORT = 18081, 18082, 18084
VENV = "/opt/cirn/venv"
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


def run(cmd, timeout=900, check=True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd[:4]} exit {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}")
    return proc


def target_image() -> str:
    """Build the systemd target image over the current base, once per base and Dockerfile."""
    base_id = run(["docker", "image", "inspect", "-f", "{{.Id}}", "cirn/base:bookworm"]).stdout.strip()
    dockerfile = hashlib.sha256((HERE / "Dockerfile.target").read_bytes()).hexdigest()[:16]
    digest = f"{base_id}:{dockerfile}"
    have = run(["docker", "image", "inspect", "-f", '{{index .Config.Labels "org.cirn.inputs"}}', TARGET_IMAGE],
               check=False).stdout.strip()
    if have != digest:
        run(["docker", "build", "-q", "--label", f"org.cirn.inputs={digest}", "-t", TARGET_IMAGE,
             "-f", str(HERE / "Dockerfile.target"), str(HERE)])
    return TARGET_IMAGE


def staging_archives() -> dict[str, str]:
    """The staging playbook's archives: the enclave's wheelhouse and the image build cache.

    Both are named for their content, so a second run finds them; archives of earlier contents
    are removed (each is hundreds of megabytes).
    """
    out = cache_dir() / "ansible"
    proc = run([ANSIBLE_PLAYBOOK, "wheelhouse.yml", "-e", f"cirn_wheelhouse_out={out}"], cwd=ANSIBLE_DIR)
    archives = {key: re.search(rf"{key}: (\S+\.tar)", proc.stdout).group(1)
                for key in ("cirn_wheelhouse_archive", "cirn_image_cache_archive")}
    for old in [*out.glob("cirn-wheelhouse-*.tar"), *out.glob("cirn-image-cache-*.tar")]:
        if str(old) not in archives.values():
            old.unlink(missing_ok=True)
    return archives


class Target:
    """A running target container; the state folder lives under `base`, mounted at its own path."""

    def __init__(self, name: str, base: Path, home: Path):
        self.name, self.base, self.home = name, base, home

    @classmethod
    def start(cls, image: str) -> Target:
        name = f"cirn-ansible-{secrets.token_hex(4)}"
        base = Path(f"/tmp/{name}")
        base.mkdir()
        run(["docker", "run", "-d", "--name", name, "--hostname", "cirn-test-target",
             "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--tmpfs", "/run", "--tmpfs", "/run/lock",
             "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "-v", "/var/run/docker.sock:/run/docker.sock",
             "-v", f"{base}:{base}", image])
        target = cls(name, base, base / "srv" / "cirn")
        for _ in range(60):
            state = target.sh("systemctl is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        return target

    def remove(self) -> None:
        subprocess.run(["docker", "exec", self.name, "systemctl", "stop", "cirn-hub", "cirn-proxy"],
                       capture_output=True)
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True)
        subprocess.run(["rm", "-rf", str(self.base)], capture_output=True)

    def sh(self, script: str, check=True, timeout=300) -> subprocess.CompletedProcess:
        return run(["docker", "exec", self.name, "bash", "-c", script], check=check, timeout=timeout)

    def backup_identities(self) -> str:
        """Copy the test backup identities (tests' own age keys) in; return cirn-restore's options."""
        self.sh("mkdir -p -m 0700 /root/backup-identities")
        for name in ("data", "keys"):
            run(["docker", "cp", str(HERE / "backup-identities" / f"{name}.key"),
                 f"{self.name}:/root/backup-identities/{name}.key"])
        return "--identity /root/backup-identities/data.key --identity /root/backup-identities/keys.key"

    def py(self, code: str, check=True, timeout=300) -> subprocess.CompletedProcess:
        return run(["docker", "exec", "-i", self.name, f"{VENV}/bin/python", "-"], input=code, check=check,
                   timeout=timeout)

    def playbook(self, *args, home: Path | None = None, check=True, timeout=900) -> subprocess.CompletedProcess:
        return run([ANSIBLE_PLAYBOOK, "-i", "inventories/test", "site.yml",
                    "-e", f"cirn_test_target={self.name}", "-e", f"cirn_home={home or self.home}",
                    "-e", f"cirn_hub_api_port={HUB_API_PORT}", "-e", f"cirn_egress_api_port={EGRESS_API_PORT}",
                    "-e", f"cirn_meter_api_port={METER_API_PORT}", *args], cwd=ANSIBLE_DIR, check=check, timeout=timeout)


def recap(proc) -> dict:
    line = next(l for l in proc.stdout.splitlines() if "unreachable=" in l)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
