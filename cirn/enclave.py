"""The enclave as one object: its state folder, policy and database, opened from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cirn.policies import load_policy
from cirn.policies.schema import EnclavePolicy

from .audit import KEY_NAME, AuditSeal, seal_chain
from .db import Database, upgrade
from .state import StateFolder


@dataclass
class Enclave:
    state: StateFolder
    policy_path: Path | None = None
    environ: dict = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Enclave":
        env = dict(os.environ if environ is None else environ)
        policy = env.get("CIRN_POLICY")
        return cls(StateFolder.from_env(env), Path(policy) if policy else None, env)

    @cached_property
    def policy(self) -> EnclavePolicy:
        return load_policy(self.policy_path)

    @property
    def db_url(self) -> str:
        return self.state.db_url(self.environ)

    @cached_property
    def db(self) -> Database:
        # The chain key and the anchor live in the state folder, out of the database's reach.
        seal = AuditSeal(lambda: self.state.secret(KEY_NAME), self.state.audit_anchor)
        return Database(self.db_url, info={"audit_seal": seal})

    def __deepcopy__(self, memo) -> "Enclave":
        # A handle on shared resources (engine, connection pool): traitlets deep-copies config
        # values for every new spawner, and each must share this one, not clone it.
        return self

    def __copy__(self) -> "Enclave":
        return self

    def init(self) -> None:
        """Create the state folder and bring the database to the newest schema (idempotent)."""
        self.state.ensure()
        if self.db_url == f"sqlite:///{self.state.db_path}":
            self.state.ensure_private_file(self.state.db_path)
        upgrade(self.db_url)
        with self.db.session() as s:
            seal_chain(s)
