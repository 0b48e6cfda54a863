#!/opt/venv/bin/python3
"""cirn-egress: ask for files of the project folder to be released, from inside a project server.

    cirn-egress submit FILE... --reason "what it is, why it is safe" [--wait]
    cirn-egress list
    cirn-egress show ID

Talks to the egress review service on the project network ($CIRN_EGRESS_URL) with this
server's own token ($JUPYTERHUB_API_TOKEN). Files must be inside the project folder; the
service copies them at once, so later edits do not change the request. Exit status: 0 done,
1 refused by the service (its message is printed), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

WORKSPACE = os.environ.get("CIRN_WORKSPACE", "/home/jovyan/project")


class Refused(Exception):
    pass


def call(method: str, path: str, body: dict | None = None) -> dict:
    base = os.environ.get("CIRN_EGRESS_URL")
    token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if not base or not token:
        raise SystemExit("error: CIRN_EGRESS_URL and JUPYTERHUB_API_TOKEN are not set; run this inside a project server")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base.rstrip("/") + "/api/" + path, data=data, method=method,
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json",
                                          "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error") or exc.reason
        except ValueError:
            message = exc.reason
        raise Refused(f"{exc.code}: {message}") from None
    except urllib.error.URLError as exc:
        raise Refused(f"the egress service cannot be reached at {base} ({exc.reason})") from None


def workspace_path(path: str) -> str:
    """The path relative to the project folder (links are resolved by the service, not here)."""
    full = os.path.abspath(path)
    root = os.path.abspath(WORKSPACE)
    if not full.startswith(root + os.sep):
        raise SystemExit(f"error: {path} is not inside the project folder {root}; only its files can be released")
    return os.path.relpath(full, root)


def show(req: dict) -> None:
    print(f"request {req['id']} · project {req['project']} · {req['state'].replace('_', ' ')}"
          f" · checks: {req.get('verdict') or 'running'}")
    for f in req.get("files", []):
        print(f"  {(f.get('verdict') or '…'):6} {f['path']}")
        for x in f.get("findings", []):
            print(f"         {x['severity']:6} {x['check']} at {x['location']}: {x['message']}")
    for c in req.get("comments", []):
        print(f"  comment by {c['author']}: {c['body']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cirn-egress", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("submit", help="ask for files to be released")
    s.add_argument("files", nargs="+", metavar="FILE")
    s.add_argument("--reason", required=True, help="what the files are, why they are safe, what was done to make them safe")
    s.add_argument("--wait", action="store_true", help="wait for the automatic checks and print their findings")
    sub.add_parser("list", help="requests of this project")
    sh = sub.add_parser("show", help="one request, with its findings and comments")
    sh.add_argument("id", type=int)
    args = parser.parse_args(argv)
    project = os.environ.get("CIRN_PROJECT", "")
    try:
        if args.command == "submit":
            files = [{"path": workspace_path(p)} for p in args.files]
            req = call("POST", "requests", {"project": project, "reason": args.reason, "files": files})
            print(f"request {req['id']} submitted with {len(files)} file(s); the files were copied and are being checked.")
            if args.wait:
                deadline = time.time() + 300
                while req["state"] == "submitted" and time.time() < deadline:
                    time.sleep(1)
                    req = call("GET", f"requests/{req['id']}")
                show(req)
            base = os.environ.get("JUPYTERHUB_BASE_URL", "/")
            print(f"follow it at {base}services/egress/requests/{req['id']} on the hub")
        elif args.command == "list":
            for r in call("GET", f"requests?project={project}")["requests"]:
                print(f"{r['id']:>6}  {r['state']:18} {r.get('verdict') or '…':7} {len(r['files'])} file(s)  {r['created_at'][:16]}")
        elif args.command == "show":
            show(call("GET", f"requests/{args.id}"))
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
