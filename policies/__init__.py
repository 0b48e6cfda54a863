"""Enclave policy as validated data: `load_policy()` reads policies/enclave.yaml (or a given file)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from .schema import EnclavePolicy

DEFAULT_POLICY = Path(__file__).with_name("enclave.yaml")


class PolicyError(ValueError):
    """The policy file is missing, not YAML, or does not match the schema."""


def load_policy(path: str | Path | None = None) -> EnclavePolicy:
    """Load and validate a policy file; errors name the file and the offending key."""
    path = Path(path) if path else DEFAULT_POLICY
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"policy file {path} must hold a mapping of sections at the top level")
    try:
        return EnclavePolicy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"policy file {path} is not valid: {problems}") from None
