"""A small HTTP server standing in for the Kubernetes API server, for the real kubectl binary to talk to.

It answers legacy discovery (/api, /apis, /api/v1, /apis/GROUP/VERSION, /version), keeps the objects it is
given and those created through it, answers get, list (label and field selectors by equality), create,
patch, update and delete on them, the scale, log and status subresources, and a watch that stays open
without events. exec, attach and port-forward are refused at the connection upgrade, after kubectl has
looked the pod up. Every request is recorded as a ``Request`` (verb, group, resource, namespace, name,
subresource), so a test asserts where the real client went: the one boundary mock of the tier.

Not a conformance suite: a patch is merged as JSON merge patch (enough for the flat patches the callers
send), and nothing is validated. The discovery table holds the resources devtools and e2e touch.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

# (group, version, kind, plural, namespaced, short names); group "" is the core group under /api/v1.
RESOURCES = [
    ("", "v1", "Namespace", "namespaces", False, ("ns",)),
    ("", "v1", "Pod", "pods", True, ("po",)),
    ("", "v1", "Service", "services", True, ("svc",)),
    ("", "v1", "Endpoints", "endpoints", True, ("ep",)),
    ("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    ("", "v1", "Secret", "secrets", True, ()),
    ("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",)),
    ("", "v1", "Event", "events", True, ("ev",)),
    ("apps", "v1", "Deployment", "deployments", True, ("deploy",)),
    ("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",)),
    ("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",)),
    ("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",)),
    ("", "v1", "LimitRange", "limitranges", True, ("limits",)),
    ("batch", "v1", "Job", "jobs", True, ()),
    ("batch", "v1", "CronJob", "cronjobs", True, ("cj",)),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("hpa",)),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",)),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True, ()),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, ()),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, ()),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, ()),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False, ("crd",)),
    ("apiregistration.k8s.io", "v1", "APIService", "apiservices", False, ()),
    ("gateway.networking.k8s.io", "v1", "GatewayClass", "gatewayclasses", False, ("gc",)),
    ("gateway.networking.k8s.io", "v1", "Gateway", "gateways", True, ("gtw",)),
    ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", True, ()),
]
SUBRESOURCES = {
    "pods": ("log", "exec", "attach", "portforward", "status"),
    "deployments": ("scale", "status"),
    "statefulsets": ("scale", "status"),
    "jobs": ("status",),
}
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
BY_PLURAL = {r[3]: r for r in RESOURCES}
BY_KIND = {r[2]: r for r in RESOURCES}


@dataclass(frozen=True)
class Request:
    method: str
    verb: str  # get, list, watch, create, update, patch, delete, connect; "discovery" for the rest
    group: str
    resource: str
    namespace: str | None
    name: str | None
    subresource: str | None
    query: dict

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        sub = f"/{self.subresource}" if self.subresource else ""
        return f"{self.verb} {self.resource}{sub} {where}{self.name or ''}".rstrip()


def _status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


def _merge(target: dict, patch: dict) -> dict:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
    return target


def _matches(obj: dict, query: dict) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, query.get("labelSelector", "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    for term in filter(None, query.get("fieldSelector", "").split(",")):
        key, _, value = term.partition("=")
        if key == "metadata.name" and obj["metadata"]["name"] != value:
            return False
    return True


class FakeKubeAPI:
    """``with FakeKubeAPI(objects) as api:`` serves on loopback; ``api.kubeconfig(path, context)`` writes a
    kubeconfig for it; ``api.requests`` is what arrived, in order."""

    def __init__(
        self,
        objects: list[dict] = (),
        logs: dict[tuple[str, str], str] | None = None,
        controllers: dict[tuple[str, str], dict] | None = None,
        on_create: Callable[[FakeKubeAPI, dict], None] | None = None,
    ) -> None:
        # (plural, name) -> the status a controller gives that object once it is created
        self.controllers = controllers or {}
        # Called with each object created through the API, after it is stored: a test's stand-in for a controller
        # that acts on it (the Job controller making a Job's pod).
        self.on_create = on_create
        self.objects: dict[tuple[str, str | None, str], dict] = {}
        # (pod, container) -> its current log; (pod, "container:previous") -> its previous one
        self.logs = logs or {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._version = 1
        for obj in objects:
            self.put(obj)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._stopping = threading.Event()

    # --- objects -------------------------------------------------------------------------------------------

    def put(self, obj: dict) -> dict:
        plural = BY_KIND[obj["kind"]][3]
        meta = obj.setdefault("metadata", {})
        namespaced = BY_PLURAL[plural][4]
        if namespaced:
            meta.setdefault("namespace", "default")
        self._version += 1
        meta.update(
            resourceVersion=str(self._version),
            uid=meta.get("uid") or f"uid-{self._version}",
            creationTimestamp=meta.get("creationTimestamp") or "2025-01-01T00:00:00Z",
        )
        meta.setdefault("generation", 1)
        self.objects[(plural, meta.get("namespace") if namespaced else None, meta["name"])] = obj
        return obj

    # --- serving ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, path: Path, context: str = "kind-cartridge", namespace: str | None = None) -> Path:
        ctx = {"cluster": "fake", "user": "fake", **({"namespace": namespace} if namespace else {})}
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": context,
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "fake", "user": {"token": "fake"}}],
                    "contexts": [{"name": context, "context": ctx}],
                }
            )
        )
        return path

    def __enter__(self) -> FakeKubeAPI:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def calls(self, verb: str | None = None, resource: str | None = None) -> list[Request]:
        """The recorded requests, without discovery, optionally of one verb and/or resource."""
        return [
            r
            for r in self.requests
            if r.verb != "discovery" and verb in (None, r.verb) and resource in (None, r.resource)
        ]

    # --- the HTTP side -------------------------------------------------------------------------------------

    def _discovery(self, parts: list[str]) -> dict | None:
        if parts == ["openapi", "v3"]:
            return {
                "paths": {
                    (f"apis/{g}/{v}" if g else f"api/{v}"): {
                        "serverRelativeURL": "/openapi/v3/" + (f"apis/{g}/{v}" if g else f"api/{v}")
                    }
                    for g, v in sorted({(r[0], r[1]) for r in RESOURCES})
                }
            }
        if parts[:2] == ["openapi", "v3"]:
            return self._openapi(parts[2:])
        if parts == ["version"]:
            return {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"}
        if parts == ["api"]:
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
            }
        if parts == ["apis"]:
            groups = sorted({(r[0], r[1]) for r in RESOURCES if r[0]})
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                        "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
                    }
                    for g, v in groups
                ],
            }
        if (parts[:1] == ["api"] and len(parts) == 2) or (parts[:1] == ["apis"] and len(parts) == 3):
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
            resources = []
            for g, v, kind, plural, namespaced, short in RESOURCES:
                if (g, v) != (group, version):
                    continue
                resources.append(
                    {
                        "name": plural,
                        "singularName": kind.lower(),
                        "namespaced": namespaced,
                        "kind": kind,
                        "verbs": VERBS,
                        "shortNames": list(short),
                    }
                )
                for sub in SUBRESOURCES.get(plural, ()):
                    sub_kind = "Scale" if sub == "scale" else kind
                    resources.append(
                        {
                            "name": f"{plural}/{sub}",
                            "singularName": "",
                            "namespaced": namespaced,
                            "kind": sub_kind,
                            "verbs": ["get", "create", "update", "patch"],
                        }
                    )
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources,
            }
        return None

    @staticmethod
    def _openapi(gv: list[str]) -> dict:
        """A group-version's OpenAPI v3 document, just enough for kubectl to see that the server validates
        fields itself (a PATCH with the fieldValidation parameter): then it skips client-side validation."""
        group, version = ("", gv[1]) if gv[0] == "api" else (gv[1], gv[2])
        prefix = "/" + "/".join(gv)
        paths = {}
        for g, v, kind, plural, namespaced, _ in RESOURCES:
            if (g, v) == (group, version):
                where = (
                    f"{prefix}/namespaces/{{namespace}}/{plural}/{{name}}"
                    if namespaced
                    else f"{prefix}/{plural}/{{name}}"
                )
                paths[where] = {
                    "patch": {
                        "x-kubernetes-group-version-kind": {"group": g, "version": v, "kind": kind},
                        "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "OK"}},
                    }
                }
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths}

    @staticmethod
    def parse(method: str, path: str, query: dict) -> Request:
        """The verb, group, resource, namespace, name and subresource of an API path."""
        parts = [p for p in path.split("/") if p]
        base = 2 if parts[:1] == ["api"] else 3 if parts[:1] == ["apis"] else None
        rest = parts[base:] if base is not None else []
        group = parts[1] if parts[:1] == ["apis"] and len(parts) > 1 else ""
        namespace = None
        if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
            namespace, rest = rest[1], rest[2:]
        if not rest:
            return Request(method, "discovery", group, "", None, None, None, query)
        resource, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
        if sub in ("exec", "attach", "portforward"):
            verb = "connect"
        elif method == "GET":
            verb = "watch" if query.get("watch") in ("true", "1") else "get" if name else "list"
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
        return Request(method, verb, group, resource, namespace, name, sub, query)

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, code: int, body: dict | str, content_type: str = "application/json") -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw.strip() else {}

            def _serve(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                parts = [p for p in url.path.split("/") if p]
                if parts[:1] in (["readyz"], ["livez"], ["healthz"]):
                    api.requests.append(Request(self.command, "discovery", "", url.path, None, None, None, query))
                    return self._send(200, "ok", "text/plain")
                discovery = api._discovery(parts) if self.command == "GET" else None
                if discovery is not None or parts[:1] not in (["api"], ["apis"]):
                    api.requests.append(Request(self.command, "discovery", "", url.path, None, None, None, query))
                    return (
                        self._send(200, discovery)
                        if discovery
                        else self._send(404, _status(404, "NotFound", "not served"))
                    )
                request = api.parse(self.command, url.path, query)
                body = self._body()  # read whatever came, a DELETE's options too: the connection is reused
                with api.lock:
                    api.requests.append(request)
                if request.verb == "discovery":
                    return self._send(404, _status(404, "NotFound", f"{url.path} not served"))
                code, answer = api.answer(request, body)
                if answer == "watch":
                    return self._watch()
                if isinstance(answer, str):
                    return self._send(code, answer, "text/plain")
                return self._send(code, answer)

            def _watch(self) -> None:
                # Open and eventless until the client goes away or the server stops: kubectl's informers
                # have what they need from the list that came before.
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.flush()
                api._stopping.wait(5)
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler

    def answer(self, r: Request, body: dict) -> tuple[int, dict | str]:
        """(status code, JSON body, log text or "watch") for a resource request; ``on_create`` hears a creation."""
        code, answer = self._answer(r, body)
        if r.verb == "create" and code == 201 and self.on_create is not None:
            self.on_create(self, answer)
        return code, answer

    def _answer(self, r: Request, body: dict) -> tuple[int, dict | str]:
        if r.resource not in BY_PLURAL:
            return 404, _status(404, "NotFound", f"the server could not find the requested resource ({r.resource})")
        group, version, kind, plural, namespaced, _ = BY_PLURAL[r.resource]
        api_version = f"{group}/{version}" if group else version
        key = (plural, r.namespace if namespaced else None, r.name)
        with self.lock:
            found = self.objects.get(key)
            if r.verb == "watch":
                return 200, "watch"
            if r.verb == "list":
                items = [
                    o
                    for (p, ns, _), o in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
                    if p == plural and (r.namespace is None or ns == r.namespace) and _matches(o, r.query)
                ]
                return 200, {
                    "kind": f"{kind}List",
                    "apiVersion": api_version,
                    "metadata": {"resourceVersion": str(self._version)},
                    "items": items,
                }
            if r.verb == "create" and r.subresource is None:
                body.setdefault("metadata", {})
                if r.namespace:
                    body["metadata"]["namespace"] = r.namespace
                name_key = (plural, r.namespace if namespaced else None, body["metadata"].get("name"))
                if name_key in self.objects:
                    return 409, _status(409, "AlreadyExists", f'{plural} "{name_key[2]}" already exists')
                if (plural, name_key[2]) in self.controllers:
                    body["status"] = self.controllers[(plural, name_key[2])]
                return 201, self.put(body)
            if found is None:
                return 404, _status(404, "NotFound", f'{plural} "{r.name}" not found')
            if r.verb == "connect":
                return 400, _status(400, "BadRequest", "the stand-in API server does not upgrade connections")
            if r.subresource == "log":
                container = r.query.get("container", "")
                wanted = f"{container}:previous" if r.query.get("previous") in ("true", "1") else container
                if (r.name, wanted) not in self.logs:
                    return 400, _status(
                        400, "BadRequest", f'previous terminated container "{container}" in pod "{r.name}" not found'
                    )
                return 200, self.logs[(r.name, wanted)]
            if r.subresource == "scale":
                replicas = found["spec"].get("replicas", 1)
                if r.verb in ("patch", "update"):
                    replicas = (body.get("spec") or {}).get("replicas", replicas)
                    found["spec"]["replicas"] = replicas
                return 200, {
                    "kind": "Scale",
                    "apiVersion": "autoscaling/v1",
                    "metadata": found["metadata"],
                    "spec": {"replicas": replicas},
                    "status": {"replicas": replicas},
                }
            if r.verb == "get":
                return 200, found
            if r.verb == "patch":
                return 200, self.put(_merge(found, body))
            if r.verb == "update":
                return 200, self.put(body)
            if r.verb == "delete":
                del self.objects[key]
                return 200, {**found, "status": found.get("status", {})}
        return 405, _status(405, "MethodNotAllowed", f"{r.method} {r.resource}")
