# JupyterHub configuration of the CIRN enclave. All settings come from cirn.hub.config, driven
# by the environment that `cirn up` sets (CIRN_HOME, CIRN_IP, CIRN_PORT, ...).
from cirn.hub.config import configure, settings_from_env

configure(c, settings_from_env())  # noqa: F821  (c is JupyterHub's config object)
