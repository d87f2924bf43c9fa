"""The host ports each runtime binds: written once here, read by both runtimes and by `devtools doctor`.

The Tiltfile (Starlark, which cannot import this) forwards the kind runtime's web, frontend and MinIO console
to the same ports; tests/test_tiltfile.py holds it to KIND_URLS.
"""

from __future__ import annotations

# The local runtime: every service on 127.0.0.1 (LocalConfig's defaults; --web-port and --frontend-port move two).
LOCAL_WEB = 8080
LOCAL_FRONTEND = 5173  # the Vite dev server
LOCAL_TRAINER = 9100  # its /health and /metrics
LOCAL_ARENA = 9099
LOCAL_ACTOR_BASE = 9101  # actor-i listens on LOCAL_ACTOR_BASE + i

# The kind runtime. The Gateway needs no host port: cloud-provider-kind gives it an address on the kind network.
REGISTRY = 5001  # the local registry, localhost:5001 in every image name
KIND_WEB = 8080  # Tilt's port-forwards
KIND_FRONTEND = 8081
KIND_MINIO_CONSOLE = 9001
TILT_UI = 10350

LOCAL_PORTS = {
    LOCAL_WEB: "web",
    LOCAL_FRONTEND: "frontend (Vite)",
    LOCAL_TRAINER: "trainer health",
    LOCAL_ARENA: "arena health",
    LOCAL_ACTOR_BASE: "actor health",
}
KIND_PORTS = {
    REGISTRY: "local registry",
    KIND_WEB: "web port-forward",
    KIND_FRONTEND: "frontend port-forward",
    KIND_MINIO_CONSOLE: "MinIO console port-forward",
    TILT_UI: "Tilt UI",
}
# Tilt's port-forwards as URLs, by workload (the kind runtime's status table).
KIND_URLS = {
    "web": f"http://localhost:{KIND_WEB}",
    "frontend": f"http://localhost:{KIND_FRONTEND}",
    "minio-console": f"http://localhost:{KIND_MINIO_CONSOLE}",
}
