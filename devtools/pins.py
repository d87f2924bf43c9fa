"""The pinned versions and digests, read from devtools/pins.json.

Every pinned version and digest (kind, its node image, kubectl, Tilt, the registry, cloud-provider-kind,
metrics-server) lives in devtools/pins.json and nowhere else: doctor reports against it, the kind
runtime creates the cluster and its add-ons from it, and the e2e workflow reads the same file
(tests/test_workflows.py keeps it so). Each pin's "sources" entry says where the value comes from.
"""

from __future__ import annotations

import json
from pathlib import Path

PINS_FILE = Path(__file__).with_name("pins.json")
PINS: dict[str, str] = json.loads(PINS_FILE.read_text())["pins"]

KIND_VERSION = PINS["KIND_VERSION"]
KIND_NODE_IMAGE = PINS["KIND_NODE_IMAGE"]
KUBECTL_VERSION = PINS["KUBECTL_VERSION"]
TILT_VERSION = PINS["TILT_VERSION"]
REGISTRY_IMAGE = PINS["REGISTRY_IMAGE"]
CLOUD_PROVIDER_KIND_IMAGE = PINS["CLOUD_PROVIDER_KIND_IMAGE"]
GATEWAY_API_VERSION = PINS["GATEWAY_API_VERSION"]
METRICS_SERVER_VERSION = PINS["METRICS_SERVER_VERSION"]
METRICS_SERVER_IMAGE = PINS["METRICS_SERVER_IMAGE"]
METRICS_SERVER_MANIFEST_SHA256 = PINS["METRICS_SERVER_MANIFEST_SHA256"]
