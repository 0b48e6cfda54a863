"""The egress review service: a hub-managed JupyterHub service (web UI and JSON API) over cirn.egress.review."""
