#!/bin/sh
# Start the single-user server of a CIRN project container. The home directory is a fresh tmpfs
# each start; the granted datasets (/data) and the project folder are linked into the file browser.
set -e
[ -e "$HOME/data" ] || ln -s /data "$HOME/data"
exec jupyterhub-singleuser "$@"
