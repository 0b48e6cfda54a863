# Server configuration of every project container.
c = get_config()  # noqa: F821

# Refuse downloads and exports server-side (the UI plugins are disabled in page_config.json).
c.ServerApp.jpserver_extensions = {"cirn_lockdown": True, "cirn_meter": True}
# The project folder is where work is kept; the home directory is scratch.
c.ServerApp.root_dir = "/home/jovyan"
c.ServerApp.terminals_enabled = True
# No check for updates or news from the internet: the container has no route out.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
