"""The host ports each runtime binds: written once here and read by both runtimes, whose ``host_ports`` say which
of them a configuration binds (`devtools doctor` checks those).

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
LOCAL_PROMETHEUS = 9090  # `devtools up --monitoring`: Prometheus' own default port

# The kind runtime. The Gateway needs no host port: cloud-provider-kind gives it an address on the kind network.
REGISTRY = 5001  # the local registry, localhost:5001 in every image name
KIND_WEB = 8080  # Tilt's port-forwards
KIND_FRONTEND = 8081
KIND_MINIO_CONSOLE = 9001
TILT_UI = 10350

KIND_PROMETHEUS = 9090  # `devtools up --monitoring`: Tilt's port-forwards to the stack's Prometheus and Grafana
KIND_GRAFANA = 3000

# Tilt's port-forwards (the Tiltfile's port_forward calls) by workload, and the same as the URLs the kind runtime's
# status table prints; with --monitoring, Prometheus' and Grafana's too.
KIND_FORWARDS = {"web": KIND_WEB, "frontend": KIND_FRONTEND, "minio-console": KIND_MINIO_CONSOLE}
KIND_MONITORING_FORWARDS = {"prometheus": KIND_PROMETHEUS, "grafana": KIND_GRAFANA}
KIND_URLS = {name: f"http://localhost:{port}" for name, port in (KIND_FORWARDS | KIND_MONITORING_FORWARDS).items()}
