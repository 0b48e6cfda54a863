# Server configuration of every project container.
c = get_config()  # noqa: F821

# The enclave's server extensions, one module each:
#   cirn_lockdown         refuses downloads and exports (the UI plugins are disabled in page_config.json)
#   cirn_browser_session  refuses token requests from outside the container: only the browser session
#   cirn_meter            counts the bytes sent to the browser and reports them to the hub's meter
c.ServerApp.jpserver_extensions = {
    "cirn_lockdown": True,
    "cirn_browser_session": True,
    "cirn_meter": True,
}
# Data files are read in a kernel: the contents API gives their metadata only (cirn_datafiles).
c.ServerApp.contents_manager_class = "cirn_datafiles.DataGuardContentsManager"
# The server serves kernel-spec resources (/kernelspecs/) and lab extensions (/lab/extensions/)
# from folders a process in the container can write (~/.local/share/jupyter, ~/.ipython): a data
# file copied there would be served past the contents API's rules. Only the image's read-only
# folders count.
c.ServerApp.kernel_spec_manager_class = "cirn_lockdown.ImageKernelSpecManager"
c.LabApp.labextensions_path = ["/opt/venv/share/jupyter/labextensions"]
# The project folder is where work is kept; the home directory is scratch.
c.ServerApp.root_dir = "/home/jovyan"
c.ServerApp.terminals_enabled = True
# No check for updates or news from the internet: the container has no route out.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
