"""ProjectSpawner: a DockerSpawner whose server name is a project slug, authorised and confined.

Before any Docker work the project store decides whether this user may run this project's
server (the name is a claim until then). The container then gets exactly the project's
extracts read-only, its workspace read-write, its own internal network, a non-root user, no
capabilities, `no-new-privileges`, and the resource profile and image the policy allows.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from dockerspawner import DockerSpawner
from tornado import web
from traitlets import Any, Integer, Unicode, default

from cirn.enclave import Enclave
from cirn.errors import Refused
from cirn.projects import spawn_decision

from .identity import check_account_accepted
from .listeners import hub_listen_on_new_networks
from .network import ensure_project_network

DATA_ROOT = "/data"
WORKSPACE = "/home/jovyan/project"
CONTAINER_UID = 1000
FINGERPRINT_LABEL = "org.cirn.data-fingerprint"


def project_mounts(enclave: Enclave, slug: str, dataset_ids: list[str]) -> list[dict]:
    """Bind mounts for one project: each granted extract read-only, the workspace read-write.

    `mounts` of type bind fail closed: if an extract's folder is missing the container is not
    created, instead of Docker creating an empty folder as `-v` would.
    """
    data = enclave.state.project_data(slug)
    mounts = [{"type": "bind", "source": str(data / ds), "target": f"{DATA_ROOT}/{ds}", "read_only": True}
              for ds in sorted(dataset_ids)]
    mounts.append({"type": "bind", "source": str(enclave.state.project_workspace(slug)),
                   "target": WORKSPACE, "read_only": False})
    return mounts


def data_fingerprint(enclave: Enclave, slug: str, dataset_ids: list[str]) -> str:
    """Identifies the extracts a container was started with.

    A bind mount pins the folder it was given: after a grant is revoked or an extract rebuilt
    (consent withdrawal swaps a new folder into place), a running container would still see the
    old data. The reconciler compares this fingerprint with the current one and stops servers
    whose data changed. Folder identity (device, inode) changes with every rebuild.
    """
    import hashlib
    h = hashlib.sha256(slug.encode())
    data = enclave.state.project_data(slug)
    for ds in sorted(dataset_ids):
        try:
            st = (data / ds).stat()
            h.update(f"{ds}:{st.st_dev}:{st.st_ino}\n".encode())
        except FileNotFoundError:
            h.update(f"{ds}:missing\n".encode())
    return h.hexdigest()[:32]


def contents_caps_env(policy) -> dict[str, str]:
    """The contents API's caps for the container's cirn_datafiles, from the policy's `contents`."""
    return {"CIRN_DATA_ROOT": DATA_ROOT,
            "CIRN_CONTENTS_BASE64_MAX_BYTES": str(policy.contents.base64_max_bytes),
            "CIRN_CONTENTS_TEXT_MAX_BYTES": str(policy.contents.text_max_bytes)}


def hardened_host_config(profile, tmpfs_size: str = "1g") -> dict:
    """Host settings every project container gets, whatever the project."""
    return {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "pids_limit": profile.pids_limit,
        "read_only": True,  # the image is immutable; only tmpfs scratch and the workspace are writable
        "tmpfs": {
            "/tmp": f"rw,nosuid,nodev,size={tmpfs_size}",
            "/home/jovyan": f"rw,nosuid,nodev,size={tmpfs_size},uid={CONTAINER_UID},gid={CONTAINER_UID},mode=0755",
        },
        "init": True,
        # Outside names must not resolve even if the daemon's resolver could: the embedded DNS
        # forwards unknown names to this address inside the container, where nothing listens.
        "dns": ["127.0.0.1"],
        "privileged": False,
    }


class ProjectSpawner(DockerSpawner):
    """One container per member and project; the JupyterHub server name is the project slug."""

    hub_api_port = Integer(
        8081, config=True,
        help="Port the hub API listens on, on every project network's gateway. Default 8081.",
    )
    egress_api_port = Integer(
        8082, config=True,
        help="Port the egress review service listens on, on every project network's gateway; the "
             "container gets its URL as CIRN_EGRESS_URL. Default 8082.",
    )
    meter_api_port = Integer(
        8084, config=True,
        help="Port the volume meter service listens on, on every project network's gateway; the container "
             "gets its URL as CIRN_METER_URL and reports the bytes it sends to browsers there. Default 8084.",
    )
    cirn_home = Unicode(
        "", config=True,
        help="The enclave state folder ($CIRN_HOME). Default: from the environment, else ./.cirn.",
    )
    enclave = Any(help="The Enclave (state folder, policy, database); built from cirn_home if not set.").tag(config=True)
    today = Any(help="Callable returning today's date; tests replace it to move time.").tag(config=True)

    @default("enclave")
    def _enclave_default(self):
        env = {"CIRN_HOME": self.cirn_home} if self.cirn_home else None
        return Enclave.from_env(env and {**__import__("os").environ, **env})

    @default("today")
    def _today_default(self):
        return dt.date.today

    @default("name_template")
    def _name_template_default(self):
        return "{prefix}-{username}--{servername}"

    @default("prefix")
    def _prefix_default(self):
        return "cirn"

    @default("remove")
    def _remove_default(self):
        return True

    @default("pull_policy")
    def _pull_policy_default(self):
        return "never"  # images are built locally; there is no registry to pull from

    def _decide(self):
        with self.enclave.db.session() as session:
            # Before the project: a spawn asked with a token (or by an admin) passes no login, and
            # the reconciler would only stop the server a pass later.
            check_account_accepted(session, self.user.name)
            decision = spawn_decision(session, self.user.name, self.name, self.today())
            grants = [g.dataset_id for g in decision.project.grants] if decision.allowed else []
            profile = decision.project.resource_profile if decision.allowed else None
        return decision, grants, profile

    async def start(self):
        if not self.name:
            raise web.HTTPError(403, "start a project's server: the default server is not used in CIRN")
        try:
            decision, grants, profile_name = await asyncio.to_thread(self._decide)
        except Refused as exc:
            self.log.warning("refused %s for project %s: %s", self.user.name, self.name, exc)
            raise web.HTTPError(403, str(exc)) from None
        if not decision.allowed:
            self.log.warning("refused %s for project %s: %s", self.user.name, self.name, decision.reason)
            raise web.HTTPError(403, decision.reason)
        missing = [ds for ds in grants if not (self.enclave.state.project_data(self.name) / ds).is_dir()]
        if missing:
            raise web.HTTPError(409, f"dataset(s) {', '.join(missing)} granted to project {self.name} have no "
                                     f"extract yet; an enclave admin must run `cirn project provision {self.name}`")
        policy = self.enclave.policy
        image = policy.images.default
        if image not in policy.images.allowed:  # the schema checks this too; never trust one layer
            raise web.HTTPError(403, f"image {image} is not in the policy's allowed images")
        self.image = image
        profile = policy.resources.profiles[profile_name or policy.resources.default_profile]
        self.mem_limit = profile.mem_limit
        self.cpu_limit = profile.cpu_limit
        net = await asyncio.to_thread(ensure_project_network, self.client_docker(), self.name)
        hub_listen_on_new_networks()
        self.network_name = net.name
        self.use_internal_ip = True
        self.hub_connect_url = f"http://{net.gateway}:{self.hub_api_port}"
        self.egress_url = f"http://{net.gateway}:{self.egress_api_port}/services/egress/"
        self.meter_url = f"http://{net.gateway}:{self.meter_api_port}/services/cirn-meter/"
        self.mounts = project_mounts(self.enclave, self.name, grants)
        self.volumes = {}
        self.extra_host_config = hardened_host_config(profile)
        self.extra_create_kwargs = {"user": str(CONTAINER_UID), "labels": {
            "org.cirn.project": self.name, "org.cirn.user": self.user.name,
            FINGERPRINT_LABEL: data_fingerprint(self.enclave, self.name, grants)}}
        self.log.info("starting %s for %s on %s with %d datasets", self.name, self.user.name, net.name, len(grants))
        return await super().start()

    _docker_client = None

    def client_docker(self):
        """The high-level Docker client (DockerSpawner's own `client` is the low-level API)."""
        cls = self.__class__
        if cls._docker_client is None:
            import docker
            # Same engine as DockerSpawner's low-level client: both read DOCKER_HOST and friends.
            cls._docker_client = docker.from_env(version="auto", **self.client_kwargs)
        return cls._docker_client

    def get_env(self):
        env = super().get_env()
        env["CIRN_PROJECT"] = self.name
        env.update(contents_caps_env(self.enclave.policy))
        if getattr(self, "egress_url", None):
            env["CIRN_EGRESS_URL"] = self.egress_url
        if getattr(self, "meter_url", None):
            env["CIRN_METER_URL"] = self.meter_url
            env["CIRN_METER_INTERVAL"] = str(self.enclave.policy.meter.report_interval)
        return env
