"""Hub-side commands of the `cirn` tool: images, accounts, up, demo."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from cirn.enclave import Enclave

REPO = Path(__file__).resolve().parent.parent


def proxy_command() -> str:
    """configurable-http-proxy from PATH or from the repository's node_modules (make setup)."""
    found = shutil.which("configurable-http-proxy") or REPO / "node_modules" / ".bin" / "configurable-http-proxy"
    if not Path(found).exists():
        raise click.ClickException("configurable-http-proxy is not installed: run `make setup` "
                                   "(npm install in the repository)")
    return str(found)


def hub_environment(enclave: Enclave, ip: str, port: int) -> dict:
    env = dict(os.environ)
    env.update({"CIRN_HOME": str(enclave.state.root), "CIRN_IP": ip, "CIRN_PORT": str(port),
                "CIRN_PROXY_COMMAND": proxy_command()})
    node_bin = str(REPO / "node_modules" / ".bin")
    env["PATH"] = f"{Path(sys.executable).parent}:{node_bin}:{env.get('PATH', '')}"
    return env


def exec_hub(enclave: Enclave, ip: str, port: int) -> None:
    """Replace this process with JupyterHub, so signals reach it directly."""
    from .auth import check_loopback, LoopbackOnly
    if enclave.environ.get("CIRN_AUTHENTICATOR", "demo") == "demo":
        # Refuse early with a readable message; the hub's own config refuses it too.
        try:
            check_loopback(ip)
        except LoopbackOnly as exc:
            raise click.ClickException(str(exc)) from None
    enclave.init()
    env = hub_environment(enclave, ip, port)
    config = Path(__file__).with_name("jupyterhub_config.py")
    hub = Path(sys.executable).with_name("jupyterhub")
    click.echo(f"CIRN hub on http://{ip}:{port}  (state: {enclave.state.root}; stop with Ctrl-C)")
    os.chdir(enclave.state.hub)
    os.execve(str(hub), [str(hub), "-f", str(config)], env)


def register(main: click.Group) -> None:
    @main.group()
    def images() -> None:
        """Container images, built offline."""

    @images.command("build")
    @click.option("--force", is_flag=True, help="Rebuild the notebook image even if up to date.")
    def images_build(force: bool) -> None:
        """Build the base and notebook images (skips what is already up to date)."""
        from cirn.images.build import build_all
        result = build_all(progress=lambda m: click.echo(f"images: {m}"), force=force)
        click.echo(f"images ready: {result.base}, {result.notebook}")

    @main.group()
    def user() -> None:
        """Local accounts for the demo login (production uses OpenID Connect)."""

    @user.command("add")
    @click.argument("username")
    @click.option("--password", default=None, help="Password; a random one is made and printed if omitted.")
    @click.option("--admin", is_flag=True, help="Make the account a hub admin.")
    @click.option("--group", "groups", multiple=True,
                  help="Hub group (repeatable): researchers, distribution-committee, research-committee, "
                       "egress-reviewers, enclave-admins.")
    @click.pass_obj
    def user_add(enclave: Enclave, username: str, password: str | None, admin: bool, groups) -> None:
        """Create or reset a local account."""
        from cirn.cli import actor
        from .auth import new_password, set_account
        password = password or new_password()
        with enclave.db.session() as s:
            set_account(s, actor(), username, password, admin, list(groups))
        click.echo(f"{username}: {password}")

    @main.command()
    @click.option("--ip", default="127.0.0.1", show_default=True, help="Address to serve on.")
    @click.option("--port", default=8000, show_default=True, help="Port to serve on.")
    @click.pass_obj
    def up(enclave: Enclave, ip: str, port: int) -> None:
        """Serve the hub (and its managed services) in the foreground."""
        exec_hub(enclave, ip, port)

    @main.command()
    @click.pass_obj
    def down(enclave: Enclave) -> None:
        """Stop the hub and its proxy; project containers are left running.

        The proxy outlives the hub on purpose, so that a hub restart does not cut researchers
        off; this stops both.
        """
        import signal
        stopped = []
        for name in ("jupyterhub.pid", "proxy.pid"):
            pid_file = enclave.state.hub / name
            if not pid_file.exists():
                continue
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
                stopped.append(name.split(".")[0])
            except (ProcessLookupError, ValueError):
                pass
            pid_file.unlink(missing_ok=True)
        click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")

    @main.command()
    @click.option("--ip", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8000, show_default=True)
    @click.option("--no-serve", is_flag=True, help="Prepare the demo but do not start the hub.")
    @click.pass_obj
    def demo(enclave: Enclave, ip: str, port: int, no_serve: bool) -> None:
        """Set up a demo enclave (images, synthetic datasets, projects, accounts) and serve it."""
        from .demo import prepare_demo
        prepare_demo(enclave, progress=lambda m: click.echo(f"demo: {m}"))
        if not no_serve:
            exec_hub(enclave, ip, port)
