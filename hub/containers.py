"""Project containers found by their label on the Docker engine: stopping a project's servers at
once, when waiting for the reconciler's next pass would leave data in use that must not be."""

from __future__ import annotations

import logging

from .network import LABEL

log = logging.getLogger("cirn.hub.containers")
USER_LABEL = "org.cirn.user"
STOP_TIMEOUT = 5  # seconds JupyterLab gets to shut down before the engine kills it


def stop_project_containers(slug: str) -> list[tuple[str, str]] | None:
    """Stop every running container of project `slug`; (user, container name) of each, or None when
    no Docker engine answers (the reconciler then stops the servers on its next pass)."""
    import docker
    from docker.errors import APIError, DockerException, NotFound

    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        log.warning("no Docker engine to stop the servers of %s now (%s)", slug, exc)
        return None
    stopped = []
    try:
        for c in client.containers.list(filters={"label": f"{LABEL}={slug}"}):
            try:
                c.stop(timeout=STOP_TIMEOUT)
            except NotFound:
                continue  # gone meanwhile: the outcome we wanted
            except APIError as exc:  # the project is suspended: the reconciler's next pass stops it
                log.error("could not stop %s of project %s now: %s", c.name, slug, exc)
                continue
            stopped.append((c.labels.get(USER_LABEL, ""), c.name))
    finally:
        client.close()
    return stopped
