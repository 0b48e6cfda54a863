"""ansible/ passes ansible-lint's production profile (offline: no Galaxy, no version check)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ANSIBLE_DIR = Path(__file__).resolve().parents[3] / "ansible"


def test_ansible_lint_production_profile_passes():
    lint = Path(sys.executable).with_name("ansible-lint")
    env = dict(os.environ, ANSIBLE_LINT_SKIP_SCHEMA_UPDATE="1", NO_COLOR="1")
    proc = subprocess.run([str(lint), "--offline", "--profile", "production", "--nocolor"], cwd=ANSIBLE_DIR,
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr
