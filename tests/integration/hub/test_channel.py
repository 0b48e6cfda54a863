"""Nothing leaves a project server except through egress review: every way out, tried against a
real hub, proxy and project container.

Researchers hold no API tokens; through the public proxy a project server refuses any token
(its own, a user's, a service's) and answers only its browser session; that session's contents
API never hands out a data file's bytes and caps other files; downloads, exports, the egress
service's file views and the hub's admin endpoints refuse a researcher. Each test here passed
the file out (or let a token in) before these controls.
"""

from __future__ import annotations

import base64
import json

import pytest
import requests
from tornado import httpclient, websocket

from cirn.hub.harness import browser_session, container_of, exec_py

from tests.loops import in_own_loop

pytestmark = [pytest.mark.docker, pytest.mark.hub]

TABLE = "participant,age\n" + "".join(f"PSEUDO{i:04d},{20 + i % 60}\n" for i in range(200))
SECRET_ROW = "PSEUDO0007"


@pytest.fixture(scope="module")
def lab(world, hub, docker_client):
    """alice's running server of a project with one granted table; her browser session on it."""
    slug = world.project("chan", ["alice"], {"cohort": {"table.csv": TABLE}})
    hub.create_user("alice")
    assert hub.start_server("alice", slug).status_code in (201, 202), hub.log_tail()
    container = container_of(docker_client, slug, "alice")
    browser = browser_session(hub, world.enclave, "alice")
    base = browser.open_server("alice", slug)
    rc, token = container.exec_run(["printenv", "JUPYTERHUB_API_TOKEN"], user="1000")
    assert rc == 0
    return {"slug": slug, "c": container, "browser": browser, "base": base, "server_token": token.decode().strip(),
            "public": f"{hub.url}/user/alice/{slug}"}


def sh(container, script: str) -> str:
    rc, out = container.exec_run(["sh", "-c", script], user="1000")
    assert rc == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


def message(r: requests.Response) -> str:
    try:
        body = r.json()
        return body.get("message") or body.get("error") or ""
    except ValueError:
        return r.text


# 1. No researcher API tokens -------------------------------------------------------------------

def test_researcher_cannot_see_or_use_the_token_page(lab, hub):
    browser = lab["browser"]
    home = browser.get(f"{hub.url}/hub/home")
    assert home.status_code == 200 and lab["slug"] in home.text
    assert 'href="/hub/token"' not in home.text
    page = browser.get(f"{hub.url}/hub/token")
    assert page.status_code == 403 and "not issued to researchers" in page.text
    r = browser.post(f"{hub.api}/users/alice/tokens", json={"note": "curl from home"})
    assert r.status_code == 403, (r.status_code, r.text)
    # The cookie does authenticate the hub API: this is the scope missing, not the session.
    assert browser.get(f"{hub.api}/user", headers={"X-XSRFToken": browser.xsrf(f"{hub.api}/user")}).json()["name"] == "alice"


def test_enclave_admin_keeps_the_token_page(hub, world):
    admin = browser_session(hub, world.enclave, "ada", groups=["enclave-admins"], admin=True)
    home = admin.get(f"{hub.url}/hub/home")
    assert 'href="/hub/token"' in home.text
    assert admin.get(f"{hub.url}/hub/token").status_code == 200
    r = admin.post(f"{hub.api}/users/ada/tokens", json={"note": "automation", "expires_in": 600})
    assert r.status_code in (200, 201), r.text


def test_user_in_no_project_has_no_token_either(hub, world):
    nobody = browser_session(hub, world.enclave, "nora")
    home = nobody.get(f"{hub.url}/hub/home")
    assert "not a member of any project" in home.text and 'href="/hub/token"' not in home.text
    assert nobody.get(f"{hub.url}/hub/token").status_code == 403
    assert nobody.post(f"{hub.api}/users/nora/tokens", json={}).status_code == 403


# 2. From the public side a project server answers only its browser session --------------------

@pytest.mark.parametrize("whose", ["server", "user", "service"])
@pytest.mark.parametrize("where", ["header", "url"])
def test_public_side_refuses_every_token(lab, hub, whose, where):
    token = {"server": lab["server_token"], "service": hub.token}.get(whose) or hub.user_token("alice")
    url = f"{lab['public']}/api/contents/data/cohort/table.csv"
    if where == "header":
        r = requests.get(url, headers={"Authorization": f"token {token}"}, timeout=10)
    else:
        r = requests.get(url, params={"token": token}, timeout=10)
    assert r.status_code == 403, (r.status_code, r.text[:300])
    assert "refused from outside this project's container" in message(r)
    assert SECRET_ROW not in r.text


def test_forwarded_for_cannot_pass_for_the_container(lab):
    for spoof in ("127.0.0.1", "::1", "127.0.0.1, 127.0.0.1"):
        r = requests.get(f"{lab['public']}/api/status", timeout=10,
                         headers={"Authorization": f"bearer {lab['server_token']}", "X-Forwarded-For": spoof,
                                  "X-Real-IP": "127.0.0.1"})
        assert r.status_code == 403, (spoof, r.status_code)


def test_inside_the_container_the_server_token_still_works(lab):
    c = lab["c"]
    rc, out = exec_py(c, f"""
import datetime, json, os, urllib.request
now = datetime.datetime.now(datetime.timezone.utc).isoformat()
tok = os.environ['JUPYTERHUB_API_TOKEN']
def get(url):
    req = urllib.request.Request(url, headers={{'Authorization': 'token ' + tok}})
    with urllib.request.urlopen(req, timeout=20) as r:
        return r.status, r.read()
print('own', get('http://127.0.0.1:8888/user/alice/{lab['slug']}/api/status')[0])
print('hub', get(os.environ['JUPYTERHUB_API_URL'] + '/user')[0])
req = urllib.request.Request(os.environ['JUPYTERHUB_ACTIVITY_URL'], method='POST',
    data=json.dumps({{'servers': {{'{lab['slug']}': {{'last_activity': now}}}}, 'last_activity': now}}).encode(),
    headers={{'Authorization': 'token ' + tok, 'Content-Type': 'application/json'}})
with urllib.request.urlopen(req, timeout=20) as r:
    print('activity', r.status)
""")
    assert rc == 0, out
    assert "own 200" in out and "hub 200" in out and "activity 200" in out
    rc, out = c.exec_run(["cirn-egress", "list"], user="1000")
    assert rc == 0, out.decode()


def test_the_browser_session_still_works(lab):
    browser, base = lab["browser"], lab["base"]
    r = browser.get(f"{base}/api/contents/data/cohort", params={"content": 1})
    assert r.status_code == 200 and [f["name"] for f in r.json()["content"]] == ["table.csv"]
    lab_page = browser.get(f"{base}/lab")
    config = json.loads(lab_page.text.split('<script id="jupyter-config-data" type="application/json">')[1]
                        .split("</script>")[0])
    # JupyterLab gets no token to send as a header: it uses the session's HttpOnly cookie.
    assert config["token"] == ""


def test_two_tabs_of_one_user_each_get_the_same_answers(lab, hub, world):
    second = browser_session(hub, world.enclave, "alice")  # another login, another tab
    base = second.open_server("alice", lab["slug"])
    for b in (lab["browser"], second):
        assert b.get(f"{base}/api/contents/project").status_code == 200
        assert b.get(f"{base}/api/contents/data/cohort/table.csv").status_code == 403


# 3. The contents API never hands a data file to a client ---------------------------------------

def test_data_file_gives_metadata_only(lab):
    browser, base = lab["browser"], lab["base"]
    meta = browser.get(f"{base}/api/contents/data/cohort/table.csv", params={"content": 0})
    assert meta.status_code == 200 and meta.json()["size"] == len(TABLE) and meta.json()["content"] is None
    for params in ({}, {"content": 1}, {"content": 1, "format": "text"}, {"content": 1, "format": "base64"},
                   {"content": 1, "type": "file"}, {"content": 1, "type": "notebook"}):
        r = browser.get(f"{base}/api/contents/data/cohort/table.csv", params=params)
        assert r.status_code == 403, (params, r.status_code)
        assert "Read it in a kernel" in message(r) and SECRET_ROW not in r.text


def test_paths_that_resolve_to_data_are_data(lab):
    browser, base, c = lab["browser"], lab["base"], lab["c"]
    sh(c, "cd /home/jovyan/project && ln -sf /data/cohort/table.csv t.csv && ln -sfn /data/cohort dlink "
          "&& mkdir -p sub && ln -sfn ../../data sub/up")
    for path in ("project/t.csv", "project/dlink/table.csv", "project/sub/up/cohort/table.csv",
                 "project/../data/cohort/table.csv", "project/sub/../../data/cohort/table.csv"):
        r = browser.get(f"{base}/api/contents/{path}", params={"content": 1})
        assert r.status_code in (403, 404), (path, r.status_code)
        assert SECRET_ROW not in r.text, path


def test_data_file_cannot_be_copied_moved_or_overwritten(lab):
    browser, base, c = lab["browser"], lab["base"], lab["c"]
    sh(c, "cd /home/jovyan/project && ln -sf /data/cohort/table.csv t.csv")
    attempts = [
        ("POST", "project", {"copy_from": "data/cohort/table.csv"}),
        ("POST", "project", {"copy_from": "data/cohort"}),
        ("POST", "project", {"copy_from": "project/t.csv"}),
        ("PATCH", "data/cohort/table.csv", {"path": "project/moved.csv"}),
        ("PATCH", "project/t.csv", {"path": "project/moved.csv"}),
        ("PUT", "data/cohort/table.csv", {"type": "file", "format": "text", "content": "x"}),
        ("PUT", "project/t.csv", {"type": "file", "format": "text", "content": "x"}),
        ("POST", "project/t.csv/checkpoints", None),
    ]
    for method, path, body in attempts:
        r = browser.request(method, f"{base}/api/contents/{path}", json=body)
        assert r.status_code == 403, (method, path, body, r.status_code, r.text[:200])
        assert "data file" in message(r), (method, path)
    listing = sh(c, "ls -A /home/jovyan/project; cat /data/cohort/table.csv | head -2")
    assert "moved.csv" not in listing and "Copy" not in listing and "participant,age" in listing


def test_workspace_files_are_capped_by_size(lab):
    browser, base, c = lab["browser"], lab["base"], lab["c"]
    exec_py(c, """
import os
os.makedirs('/home/jovyan/project/caps', exist_ok=True)
open('/home/jovyan/project/caps/small.bin', 'wb').write(os.urandom(200 * 1024))
open('/home/jovyan/project/caps/big.bin', 'wb').write(os.urandom(300 * 1024))
open('/home/jovyan/project/caps/small.txt', 'w').write('a' * (900 * 1024))
open('/home/jovyan/project/caps/big.txt', 'w').write('a' * (1100 * 1024))
""")
    def get(name, **params):
        return browser.get(f"{base}/api/contents/project/caps/{name}", params={"content": 1, **params})
    r = get("small.bin", format="base64")
    assert r.status_code == 200 and len(base64.b64decode(r.json()["content"])) == 200 * 1024
    assert get("small.bin").status_code == 200
    for r in (get("big.bin", format="base64"), get("big.bin")):
        assert r.status_code == 403 and "base64_max_bytes" in message(r)
    assert get("small.txt", format="text").status_code == 200
    assert get("small.txt").status_code == 200  # above the base64 cap, but text
    for r in (get("big.txt", format="text"), get("big.txt"), get("big.txt", format="base64")):
        assert r.status_code == 403 and "max_bytes" in message(r)
    # The caps came from the policy, through the spawner's environment.
    assert "CIRN_CONTENTS_BASE64_MAX_BYTES=262144" in sh(c, "env")


def test_workspace_notebooks_open_and_save(lab):
    browser, base = lab["browser"], lab["base"]
    nb = {"cells": [{"cell_type": "code", "source": "print(1)", "metadata": {}, "outputs": [], "execution_count": None}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    r = browser.put(f"{base}/api/contents/project/analysis.ipynb", json={"type": "notebook", "content": nb})
    assert r.status_code in (200, 201), r.text
    back = browser.get(f"{base}/api/contents/project/analysis.ipynb", params={"content": 1})
    assert back.status_code == 200 and back.json()["content"]["cells"][0]["source"] == "print(1)"
    r = browser.put(f"{base}/api/contents/project/script.py", json={"type": "file", "format": "text", "content": "x = 1\n"})
    assert r.status_code in (200, 201)
    assert browser.get(f"{base}/api/contents/project/script.py", params={"content": 1}).json()["content"] == "x = 1\n"


# 6. Every other way out ------------------------------------------------------------------------

def test_downloads_views_and_exports_of_data_are_refused(lab):
    browser, base = lab["browser"], lab["base"]
    for path in ("/files/data/cohort/table.csv", "/files/data/cohort/table.csv?download=1",
                 "/view/data/cohort/table.csv", "/nbconvert/html/data/cohort/table.csv",
                 "/nbconvert/script/project/analysis.ipynb"):
        r = browser.get(base + path, allow_redirects=False)
        assert r.status_code == 403 and SECRET_ROW not in r.text, (path, r.status_code)
        r = requests.get(lab["public"] + path, headers={"Authorization": f"token {lab['server_token']}"},
                         timeout=10, allow_redirects=False)
        assert r.status_code == 403 and SECRET_ROW not in r.text, (path, r.status_code)


def test_contents_api_cannot_write_into_a_served_place(lab):
    browser, base = lab["browser"], lab["base"]
    # The server's own static, settings and extension folders are hidden paths, which the
    # contents API refuses; /files and /view (which would serve the workspace) are refused above.
    for path in (".jupyter/custom/t.csv", ".local/share/jupyter/labextensions/x/static/t.csv",
                 ".local/share/jupyter/kernels/x/t.csv"):
        r = browser.put(f"{base}/api/contents/{path}", json={"type": "file", "format": "text", "content": TABLE})
        assert r.status_code >= 400, (path, r.status_code)
        r = browser.post(f"{base}/api/contents/{path.rsplit('/', 1)[0]}", json={"copy_from": "data/cohort/table.csv"})
        assert r.status_code >= 400, (path, r.status_code)


def ws_status(url: str, headers: dict | None = None) -> int:
    """101 if the websocket opens, else the HTTP status of the refused handshake."""
    async def go():
        try:
            conn = await websocket.websocket_connect(httpclient.HTTPRequest(url, headers=headers or {},
                                                                             request_timeout=20))
        except httpclient.HTTPClientError as exc:
            return exc.code
        conn.close()
        return 101
    return in_own_loop(go())


def test_kernel_and_terminal_websockets_need_the_browser_session(lab):
    browser, base = lab["browser"], lab["base"]
    kernel = browser.post(f"{base}/api/kernels", json={"name": "python3"})
    assert kernel.status_code == 201, kernel.text
    terminal = browser.post(f"{base}/api/terminals")
    assert terminal.status_code == 200, terminal.text
    ws_base = base.replace("http://", "ws://")
    urls = [f"{ws_base}/api/kernels/{kernel.json()['id']}/channels",
            f"{ws_base}/terminals/websocket/{terminal.json()['name']}"]
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    try:
        for url in urls:
            assert ws_status(url) == 403, url
            assert ws_status(f"{url}?token={lab['server_token']}") == 403, url
            assert ws_status(url, {"Authorization": f"token {lab['server_token']}"}) == 403, url
            # The browser session itself opens them: that is the interactive session (metered).
            assert ws_status(url, {"Cookie": cookie}) == 101, url
    finally:
        browser.delete(f"{base}/api/kernels/{kernel.json()['id']}")
        browser.delete(f"{base}/api/terminals/{terminal.json()['name']}")


def test_egress_service_shows_members_no_file_content(lab, hub):
    c, browser = lab["c"], lab["browser"]
    sh(c, f"cp /data/cohort/table.csv /home/jovyan/project/out.csv")
    rc, out = c.exec_run(["cirn-egress", "submit", "/home/jovyan/project/out.csv", "--reason", "a table"], user="1000")
    assert rc == 0, out.decode()
    rid = int(out.decode().split("request ")[1].split()[0])
    egress = f"{hub.url}/services/egress/"
    assert browser.get(egress).status_code == 200  # the OAuth hop to the service
    req = browser.get(f"{egress}api/requests/{rid}").json()
    fid = req["files"][0]["id"]
    for path in (f"requests/{rid}/files/{fid}", f"requests/{rid}/files/{fid}/raw", f"api/requests/{rid}/package"):
        r = browser.get(egress + path)
        assert r.status_code in (403, 404, 409), (path, r.status_code)
        assert SECRET_ROW not in r.text, path


def test_hub_admin_endpoints_refuse_a_researcher_cookie(lab, hub):
    browser = lab["browser"]
    hub.create_user("bob")
    xsrf = {"X-XSRFToken": browser.xsrf(f"{hub.api}/users")}
    assert browser.get(f"{hub.url}/hub/admin").status_code == 403
    for method, path in (("GET", "/users"), ("GET", "/users/bob"), ("POST", "/users/bob/tokens"),
                         ("POST", "/users/bob/servers/x"), ("DELETE", "/users/bob"), ("GET", "/proxy"),
                         ("POST", "/users/alice/tokens"), ("GET", "/users/alice/tokens"), ("POST", "/shares/alice/x"),
                         ("GET", "/services"), ("POST", "/groups/enclave-admins/users")):
        r = browser.request(method, f"{hub.api}{path}", headers=xsrf, json={})
        assert r.status_code in (403, 404), (method, path, r.status_code, r.text[:200])
    assert browser.get(f"{hub.api}/user", headers=xsrf).status_code == 200


def test_stopped_server_serves_nothing(lab, hub, world, docker_client):
    slug = world.project("stopped", ["alice"], {"cohort": {"table.csv": TABLE}})
    assert hub.start_server("alice", slug).status_code in (201, 202)
    browser = lab["browser"]
    base = browser.open_server("alice", slug)
    hub.stop_server("alice", slug)
    for r in (browser.get(f"{base}/api/contents/data/cohort/table.csv", params={"content": 1}, allow_redirects=False),
              requests.get(f"{base}/api/contents/data/cohort/table.csv", timeout=10,
                           headers={"Authorization": f"token {lab['server_token']}"}, allow_redirects=False)):
        assert r.status_code != 200 and SECRET_ROW not in r.text


def test_researcher_tokens_are_revoked_when_the_hub_starts(lab, hub, world):
    """Runs last in this module: it restarts the hub."""
    browser_session(hub, world.enclave, "ada", groups=["enclave-admins"], admin=True)
    old = hub.user_token("alice")  # a token made before this version (the admin service can still make one)
    assert requests.get(f"{hub.api}/user", headers={"Authorization": f"token {old}"}, timeout=10).status_code == 200
    admin_token = requests.post(f"{hub.api}/users/ada/tokens", headers=hub.headers(),
                                json={"note": "automation"}, timeout=10).json()["token"]
    hub.stop(kill_proxy=False)
    hub.start()
    hub.wait_ready("alice", lab["slug"], timeout=60)
    assert requests.get(f"{hub.api}/user", headers={"Authorization": f"token {old}"}, timeout=10).status_code == 403
    assert requests.get(f"{hub.api}/user", headers={"Authorization": f"token {admin_token}"},
                        timeout=10).status_code == 200
    # The running server's own token survived: it reports activity and talks to the egress service.
    rc, out = exec_py(lab["c"], """
import os, urllib.request
req = urllib.request.Request(os.environ['JUPYTERHUB_API_URL'] + '/user',
                             headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']})
print(urllib.request.urlopen(req, timeout=20).status)
""")
    assert rc == 0 and out.strip() == "200", out
    assert lab["c"].exec_run(["cirn-egress", "list"], user="1000")[0] == 0


SERVED_PLACES = {  # where a process in the container could put a file, and where the server would serve it
    ".jupyter/custom/t.csv": ["/static/t.csv", "/static/custom/t.csv", "/custom/t.csv"],
    ".local/share/jupyter/kernels/leak/t.csv": ["/kernelspecs/leak/t.csv", "/api/kernelspecs/leak/t.csv"],
    ".local/share/jupyter/kernels/python3/t.csv": ["/kernelspecs/python3/t.csv"],
    ".ipython/kernels/leak/t.csv": ["/kernelspecs/leak/t.csv"],
    ".local/share/jupyter/labextensions/leak/static/t.csv": ["/lab/extensions/leak/static/t.csv"],
    ".local/share/jupyter/lab/static/t.csv": ["/static/lab/t.csv", "/lab/static/t.csv"],
}


def test_a_kernel_cannot_put_data_where_the_server_serves_files(lab):
    """The server serves static files, kernel specs and lab extensions from folders under the
    home directory; a kernel that copies a data file there must not get it served."""
    c, browser, base = lab["c"], lab["browser"], lab["base"]
    script = "; ".join(f"mkdir -p $HOME/{p.rsplit('/', 1)[0]} 2>/dev/null && cp /data/cohort/table.csv $HOME/{p} 2>/dev/null"
                       for p in SERVED_PLACES)
    spec = '{"argv": ["python3"], "display_name": "x", "language": "python"}'
    for folder in (".local/share/jupyter/kernels/leak", ".local/share/jupyter/kernels/python3", ".ipython/kernels/leak"):
        script += f"; echo '{spec}' > $HOME/{folder}/kernel.json"
    script += "; true"
    sh(c, script)
    for place, urls in SERVED_PLACES.items():
        for url in urls:
            r = browser.get(base + url)
            assert SECRET_ROW not in r.text, (place, url, r.status_code)
