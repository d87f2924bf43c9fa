"""The names the kind runtime gives what it creates, and the variables that change them: two checkouts (or two
stacks) on one machine keep apart with their own cluster, or their own registry's container and port.

Nothing here talks to kind or Docker (the CLI reads it at start-up); the rules quoted are theirs, so a name they
would refuse stops at parsing, with why, instead of half-way through `up`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devtools.ports import REGISTRY as DEFAULT_REGISTRY_PORT

# `devtools --cluster`'s variable, also read by the Tiltfile (its kube context) and given to Tilt by devtools.
CLUSTER_VARIABLE = "CARTRIDGE_CLUSTER"
# `devtools --registry-name` and `--registry-port`'s; the Tiltfile reads the port for its image names.
REGISTRY_NAME_VARIABLE = "CARTRIDGE_REGISTRY_NAME"
REGISTRY_PORT_VARIABLE = "CARTRIDGE_REGISTRY_PORT"

DEFAULT_CLUSTER = "cartridge"  # kind-config.yaml's `name` (tests/test_kind_config.py holds them equal)
DEFAULT_REGISTRY_NAME = "kind-registry"  # the name kind's local-registry guide uses

# kind pkg/internal/apis/config/validate.go (validNameRE): kind refuses any other cluster name.
CLUSTER_NAME = re.compile(r"^[a-z0-9.-]+$")
# moby daemon/names/names.go (RestrictedNamePattern): Docker refuses any other container name.
CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def cluster_name_problem(name: str) -> str | None:
    """Why kind would refuse ``name`` for a cluster, or None."""
    if CLUSTER_NAME.match(name):
        return None
    return f"{name!r} is not a name kind accepts for a cluster: lower-case letters, digits, '.' and '-' only"


def registry_name_problem(name: str) -> str | None:
    """Why Docker would refuse ``name`` for the registry's container, or None."""
    if CONTAINER_NAME.match(name):
        return None
    return f"{name!r} is not a container name Docker accepts: a letter or digit, then letters, digits, '_', '.' or '-'"


@dataclass(frozen=True)
class KindNames:
    """The cluster and the registry, as `devtools` options name them."""

    cluster: str = DEFAULT_CLUSTER
    registry_name: str = DEFAULT_REGISTRY_NAME
    registry_port: int = DEFAULT_REGISTRY_PORT
