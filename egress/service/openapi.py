"""The OpenAPI document of the JSON API, served at api/openapi.json (and fuzzed against in CI)."""

from __future__ import annotations

ERROR = {"description": "refused, with a message saying why",
         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
REQUEST = {"description": "the request as the caller may see it",
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Request"}}}}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
FILE_ID = {"name": "file_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _errors(*codes: int) -> dict:
    return {str(c): ERROR for c in codes}


def _action(summary: str, body: dict | None = None, codes=(400, 401, 403, 404, 409)) -> dict:
    op = {"summary": summary, "parameters": [ID], "responses": {"200": REQUEST, **_errors(*codes)}}
    if body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    return {"post": op}


def openapi(base: str) -> dict:
    text = {"type": "string", "maxLength": 10000}
    file_spec = {"type": "object", "required": ["path"], "properties": {
        "path": {"type": "string", "description": "relative to the project folder (~/project)"},
        "justification": text}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "CIRN egress review", "version": "1",
                 "description": "Ask for files of a project folder to be released, review them, download "
                                "released packages. Authenticate with a hub token (Authorization: token ...) "
                                "or the hub's OAuth cookie plus the X-XSRFToken header."},
        "servers": [{"url": base.rstrip("/") + "/api"}],
        "components": {
            "securitySchemes": {"hubToken": {"type": "apiKey", "in": "header", "name": "Authorization"}},
            "schemas": {
                "Error": {"type": "object", "required": ["status", "error"],
                          "properties": {"status": {"type": "integer"}, "error": {"type": "string"}}},
                "Finding": {"type": "object", "properties": {
                    "check": {"type": "string"}, "severity": {"type": "string", "enum": ["pass", "review", "block"]},
                    "location": {"type": "string"}, "message": {"type": "string"}, "file": {"type": "string"},
                    "field": {"type": "string", "description": "for a finding in the request's own text: the field"}}},
                "File": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "path": {"type": "string"}, "sha256": {"type": "string"},
                    "size": {"type": "integer"}, "kind": {"type": "string", "nullable": True},
                    "verdict": {"type": "string", "nullable": True}, "justification": {"type": "string"},
                    "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}},
                    "needs_override": {"type": "boolean", "description": "approving it needs an override reason "
                                       "(a block finding, or content the review page cannot show in full)"}}},
                "Request": {"type": "object", "required": ["id", "project", "requester", "state"], "properties": {
                    "id": {"type": "integer"}, "project": {"type": "string"}, "requester": {"type": "string"},
                    "state": {"type": "string", "enum": ["submitted", "checked", "in_review", "approved",
                                                         "changes_requested", "rejected", "released",
                                                         "withdrawn", "revoked"]},
                    "reason": {"type": "string"}, "round": {"type": "integer"},
                    "verdict": {"type": "string", "nullable": True},
                    "files": {"type": "array", "items": {"$ref": "#/components/schemas/File"}},
                    "text_findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"},
                                      "description": "findings in the request's reason, paths, justifications "
                                                     "and the comments the requester sees"}}},
                "RequestList": {"type": "object", "properties": {
                    "requests": {"type": "array", "items": {"$ref": "#/components/schemas/Request"}}}},
                "NewRequest": {"type": "object", "required": ["project", "files"], "properties": {
                    "project": {"type": "string"}, "reason": text,
                    "files": {"type": "array", "items": file_spec, "maxItems": 50}}},
            },
        },
        "security": [{"hubToken": []}],
        "paths": {
            "/me": {"get": {"summary": "who the service thinks you are", "responses": {
                "200": {"description": "name, projects, reviewer", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"name": {"type": "string"}, "reviewer": {"type": "boolean"},
                                                     "projects": {"type": "array", "items": {"type": "string"}}}}}}},
                **_errors(401, 403)}}},
            "/projects/{slug}/files": {"get": {
                "summary": "files of a project folder (the file picker)",
                "parameters": [{"name": "slug", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": "^[a-z0-9-]+$"}}],
                "responses": {"200": {"description": "files", "content": {"application/json": {"schema": {
                    "type": "object"}}}}, **_errors(401, 403, 404)}}},
            "/requests": {
                "get": {"summary": "requests of your projects, newest first",
                        "parameters": [{"name": "project", "in": "query", "required": False,
                                        "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "list", "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/RequestList"}}}}, **_errors(401, 403)}},
                "post": {"summary": "ask for files of the project folder to be released",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/NewRequest"}}}},
                         "responses": {"201": REQUEST, **_errors(400, 401, 403, 404, 409, 413)}}},
            "/queue": {"get": {"summary": "requests waiting for review, oldest first (reviewers)",
                               "responses": {"200": {"description": "list", "content": {"application/json": {
                                   "schema": {"$ref": "#/components/schemas/RequestList"}}}},
                                   **_errors(401, 403)}}},
            "/requests/{id}": {"get": {"summary": "one request", "parameters": [ID],
                                       "responses": {"200": REQUEST, **_errors(401, 403, 404)}}},
            "/requests/{id}/package": {"get": {
                "summary": "download the released package (project members, from outside the enclave)",
                "parameters": [ID],
                "responses": {"200": {"description": "zip", "content": {"application/zip": {
                    "schema": {"type": "string", "format": "binary"}}}}, **_errors(401, 403, 404)}}},
            "/requests/{id}/files/{file_id}/decision": {"post": {
                "summary": "a reviewer's decision on one file", "parameters": [ID, FILE_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["decision"], "properties": {
                        "decision": {"type": "string", "enum": ["approve", "request_changes", "reject"]},
                        "comment": text, "visibility": {"type": "string", "enum": ["reviewers", "requester"]},
                        "override_reason": text}}}}},
                "responses": {"200": REQUEST, **_errors(400, 401, 403, 404, 409)}}},
            "/requests/{id}/review": _action("submit your review of this round (after deciding every file)", {"type": "object"}),
            "/requests/{id}/withdraw": _action("withdraw your request", {"type": "object"}),
            "/requests/{id}/reject": _action("reject the whole request", {
                "type": "object", "required": ["comment"], "properties": {"comment": text}}),
            "/requests/{id}/revoke": _action("revoke an approved or released request", {
                "type": "object", "required": ["reason"], "properties": {"reason": text}}),
            "/requests/{id}/release": _action("build the package of an approved request again", {"type": "object"}),
            "/requests/{id}/comments": _action("comment on a request", {
                "type": "object", "required": ["body"], "properties": {
                    "body": text, "visibility": {"type": "string", "enum": ["reviewers", "requester"]},
                    "file_id": {"type": "integer"}}}),
            "/requests/{id}/resubmit": _action("take new snapshots, add or remove files, and queue again", {
                "type": "object", "properties": {
                    "files": {"type": "array", "items": file_spec, "maxItems": 50},
                    "remove": {"type": "array", "items": {"type": "string"}}, "reason": text}},
                codes=(400, 401, 403, 404, 409, 413)),
        },
    }
