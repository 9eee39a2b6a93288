"""A small Hugging Face Hub-compatible HTTP server for tests (stdlib only, 127.0.0.1, in memory).

It answers what huggingface_hub's real client code calls to push and to download a model repo:
``POST /api/repos/create``, ``POST /api/models/{repo}/preupload/{rev}`` (every file "regular"),
``POST /api/models/{repo}/commit/{rev}`` (NDJSON with base64 files), ``POST .../branch/{name}``,
``GET /api/models/{repo}[/revision/{rev}]`` (model info), ``GET /api/models/{repo}/tree/{rev}``,
``GET /api/whoami-v2``, ``POST /api/validate-yaml`` (model-card metadata checks, see
:func:`validate_card`) and ``HEAD/GET /{repo}/resolve/{rev}/{path}``. Dataset repos (put there by
:meth:`LocalHub.add_repo`) are read, as ``datasets.load_dataset`` reads them, through the same info, tree
and resolve routes under ``/api/datasets/`` and ``/datasets/``.

Writes need ``Authorization: Bearer <token>``; private repos need it for reads too. Every request is
recorded (method, path, headers with lower-case names) so tests can check what the client sent.
"""

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

REPO = r"(?P<repo>[^/]+/[^/]+)"
KIND = r"(?P<kind>models|datasets)"


def _key(match) -> str:
    """Dataset repos are stored as ``datasets/OWNER/NAME``, model repos as ``OWNER/NAME``."""
    return f"datasets/{match['repo']}" if match["kind"] == "datasets" else match["repo"]


def _entries(branch: dict, folder: str, recursive: bool) -> list[dict]:
    """The tree API's entries under ``folder``: its files and sub-folders (everything below, with ``recursive``)."""
    entries, below = {}, f"{folder}/" if folder else ""

    def add_folder(path):
        entries.setdefault(path, {"type": "directory", "path": path, "oid": _sha(path.encode())})

    for path, data in sorted(branch["files"].items()):
        if not path.startswith(below):
            continue
        parts = path[len(below):].split("/")
        if recursive or len(parts) == 1:
            for depth in range(1, len(parts)):  # the folders on the way
                add_folder(below + "/".join(parts[:depth]))
            entries[path] = {"type": "file", "path": path, "size": len(data), "oid": _sha(data)}
        else:
            add_folder(below + parts[0])
    return list(entries.values())


class HubState:
    def __init__(self, token: str, user: str = "tester"):
        self.token, self.user = token, user
        self.repos: dict[str, dict] = {}  # repo_id -> {"private": bool, "branches": {rev: {"sha", "files"}}}
        self.requests: list[dict] = []
        self.lock = threading.Lock()


def _sha(*parts: bytes) -> str:
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def validate_card(content: str) -> list[str]:
    """The Hub's model-card metadata checks, as far as tests need them: YAML front matter, language,
    license, and a model-index whose results name task type, dataset name/type/split and metric type/value."""
    import yaml

    if not content.startswith("---\n") or "\n---" not in content[4:]:
        return ["no YAML front matter between --- lines"]
    try:
        meta = yaml.safe_load(content[4:content.index("\n---", 4)])
    except yaml.YAMLError as error:
        return [f"YAML: {error}"]
    if not isinstance(meta, dict):
        return ["metadata must be a mapping"]
    problems = []
    languages = meta.get("language", [])
    if not isinstance(languages, list) or not all(isinstance(x, str) and 2 <= len(x) <= 3 for x in languages):
        problems.append('"language" must be a list of ISO 639 codes')
    if "license" in meta and not isinstance(meta["license"], str):
        problems.append('"license" must be a string')
    for i, model in enumerate(meta.get("model-index", []) or []):
        if not model.get("name"):
            problems.append(f"model-index[{i}].name is required")
        for j, result in enumerate(model.get("results", [])):
            where = f"model-index[{i}].results[{j}]"
            if not (result.get("task") or {}).get("type"):
                problems.append(f"{where}.task.type is required")
            dataset = result.get("dataset") or {}
            for key in ("name", "type"):
                if not dataset.get(key):
                    problems.append(f"{where}.dataset.{key} is required")
            for k, metric in enumerate(result.get("metrics", [])):
                if not metric.get("type") or not isinstance(metric.get("value"), (int, float)):
                    problems.append(f"{where}.metrics[{k}] needs a type and a numeric value")
    return problems


class HubHandler(BaseHTTPRequestHandler):
    state: HubState  # set on the subclass the server builds
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    # ---- helpers ----
    def _send(self, status: int, body=b"", headers: dict | None = None, head: bool = False):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        content_type = "application/octet-stream" if isinstance(body, bytes) else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _error(self, status: int, code: str, message: str, head: bool = False):
        self._send(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message}, head)

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.state.token}"

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self):
        self.state.requests.append({"method": self.command, "path": self.path,
                                    "headers": {k.lower(): v for k, v in self.headers.items()}})

    def _repo(self, repo_id: str, head: bool = False):
        repo = self.state.repos.get(repo_id)
        if repo is None or (repo["private"] and not self._authorized()):
            self._error(401 if not self._authorized() else 404, "RepoNotFound", f"Repository {repo_id} not found", head)
            return None
        return repo

    def _branch(self, repo_id: str, revision: str, head: bool = False):
        repo = self._repo(repo_id, head)
        if repo is None:
            return None
        branch = repo["branches"].get(revision)
        if branch is None:
            for candidate in repo["branches"].values():  # a commit sha works as a revision too
                if candidate["sha"] == revision:
                    return candidate
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
        return branch

    def _info(self, repo_id: str, revision: str):
        branch = self._branch(repo_id, revision)
        if branch is None:
            return
        name = repo_id.removeprefix("datasets/")
        self._send(200, {
            "id": name, "modelId": name, "sha": branch["sha"], "private": self.state.repos[repo_id]["private"],
            "siblings": [{"rfilename": path} for path in sorted(branch["files"])], "tags": [], "downloads": 0,
        })

    # ---- verbs ----
    def do_HEAD(self):
        self._record()
        self._resolve(head=True)

    def do_GET(self):
        self._record()
        path = urlsplit(self.path).path
        if path == "/api/whoami-v2":
            if not self._authorized():
                return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
            return self._send(200, {"type": "user", "name": self.state.user, "orgs": [],
                                    "auth": {"type": "access_token", "accessToken": {"role": "write"}}})
        m = re.fullmatch(rf"/api/{KIND}/{REPO}(?:/revision/(?P<rev>.+))?", path)
        if m:
            return self._info(_key(m), unquote(m["rev"] or "main"))
        m = re.fullmatch(rf"/api/{KIND}/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<sub>.*))?", path)
        if m:
            branch = self._branch(_key(m), unquote(m["rev"]))
            if branch is None:
                return
            return self._send(200, _entries(branch, (m["sub"] or "").strip("/"), "recursive=true" in self.path.lower()))
        self._resolve(head=False)

    def _resolve(self, head: bool):
        m = re.fullmatch(rf"/(?:(?P<kind>datasets)/)?{REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", urlsplit(self.path).path)
        if not m:
            return self._error(404, "NotFound", f"no route for {self.command} {self.path}", head)
        branch = self._branch(_key(m), unquote(m["rev"]), head)
        if branch is None:
            return
        name = unquote(m["file"])
        if name not in branch["files"]:
            return self._error(404, "EntryNotFound", f"{name} does not exist on {m['rev']}", head)
        data = branch["files"][name]
        etag = hashlib.sha256(data).hexdigest()
        self._send(200, data, {"X-Repo-Commit": branch["sha"], "ETag": f'"{etag}"'}, head)

    def do_POST(self):
        self._record()
        body = self._body()
        path = urlsplit(self.path).path
        if path == "/api/validate-yaml":
            problems = validate_card(json.loads(body)["content"])
            if problems:
                return self._send(400, "; ".join(problems).encode(), {"Content-Type": "text/plain"})
            return self._send(200, {"errors": [], "warnings": []})
        if not self._authorized():
            return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
        if path == "/api/repos/create":
            payload = json.loads(body)
            repo_id = f"{payload.get('organization') or self.state.user}/{payload['name']}"
            with self.state.lock:
                if repo_id in self.state.repos:
                    return self._send(409, {"error": "You already created this model repo", "url": f"/{repo_id}"})
                self.state.repos[repo_id] = {
                    "private": payload.get("visibility") == "private" or bool(payload.get("private")),
                    "branches": {"main": {"sha": _sha(repo_id.encode()), "files": {}}},
                }
            return self._send(200, {"url": f"http://{self.headers['Host']}/{repo_id}", "name": repo_id})
        m = re.fullmatch(rf"/api/models/{REPO}/preupload/(?P<rev>.+)", path)
        if m:
            if self._branch(m["repo"], unquote(m["rev"])) is None:
                return
            files = json.loads(body)["files"]
            return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                              for f in files]})
        m = re.fullmatch(rf"/api/models/{REPO}/branch/(?P<branch>.+)", path)
        if m:
            repo = self._repo(m["repo"])
            if repo is None:
                return
            name = unquote(m["branch"])
            if name in repo["branches"]:
                return self._send(409, {"error": f"Reference {name} already exists"})
            main = repo["branches"]["main"]
            repo["branches"][name] = {"sha": main["sha"], "files": dict(main["files"])}
            return self._send(200, {})
        m = re.fullmatch(rf"/api/models/{REPO}/commit/(?P<rev>.+)", path)
        if m:
            return self._commit(m["repo"], unquote(m["rev"]), body)
        self._error(404, "NotFound", f"no route for POST {path}")

    def _commit(self, repo_id: str, revision: str, body: bytes):
        branch = self._branch(repo_id, revision)
        if branch is None:
            return
        files = dict(branch["files"])
        summary = ""
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                summary = value.get("summary", "")
            elif key == "file":
                if value.get("encoding") != "base64":
                    return self._error(400, "BadRequest", f"unsupported encoding {value.get('encoding')}")
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                files.pop(value["path"], None)
            else:
                return self._error(400, "BadRequest", f"this test server takes no {key} entries")
        sha = _sha(branch["sha"].encode(), summary.encode(), *[p.encode() + d for p, d in sorted(files.items())])
        branch.update(sha=sha, files=files)
        host = self.headers["Host"]
        self._send(200, {"commitUrl": f"http://{host}/{repo_id}/commit/{sha}", "commitOid": sha,
                         "pullRequestUrl": None})


class LocalHub:
    """``with LocalHub(token) as hub: hub.endpoint`` — the server runs on a thread until exit."""

    def __init__(self, token: str):
        self.state = HubState(token)
        handler = type("Handler", (HubHandler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def add_repo(self, repo_id: str, files: dict[str, bytes], revision: str = "main", private: bool = False,
                 repo_type: str = "model") -> None:
        """Put a public (or private) model or dataset repo with ``files`` (path -> bytes) on branch ``revision``."""
        repo_id = f"datasets/{repo_id}" if repo_type == "dataset" else repo_id
        repo = self.state.repos.setdefault(repo_id, {"private": private, "branches": {}})
        sha = _sha(repo_id.encode(), revision.encode(), *[p.encode() + d for p, d in sorted(files.items())])
        repo["branches"][revision] = {"sha": sha, "files": dict(files)}
        repo["branches"].setdefault("main", {"sha": _sha(repo_id.encode()), "files": {}})

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
