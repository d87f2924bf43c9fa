"""The local runtime's Prometheus (`devtools up --monitoring`): a real Prometheus (Debian's `prometheus` package on
our machines, `prometheus` on PATH elsewhere) that scrapes every local service's /metrics and evaluates the alerts
of k8s/components/monitoring/operator/alerts.yaml, the PrometheusRule the cluster gets (its groups, as a plain rules
file: devtools.alert_rules).

Each target carries the labels the cluster's scrapes give (job = the service, `namespace`, `pod`), so the alerts
and their joins read the local series as they read the cluster's."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from devtools.alert_rules import rules_file_text
from devtools.errors import DevtoolsError

NAMESPACE = "local"  # what the alerts group by, where the cluster has its namespace
SCRAPED_KINDS = ("actor", "trainer", "arena", "web")  # the services that serve /metrics
SCRAPE_INTERVAL = "5s"  # a local stack moves fast: an iteration can take seconds
# Debian's package starts its own server on :9090 (this runtime's port) and recommends node-exporter on :9100 (the
# trainer's): `make system-deps` installs it without recommends and stops that server (scripts/install-system-deps.sh).
INSTALL_HINT = (
    "`make system-deps` (Debian, Ubuntu: apt-get install --no-install-recommends prometheus, then "
    "`systemctl disable --now prometheus`, whose server would hold :9090), or start without --monitoring"
)


def require() -> None:
    """`prometheus` is on PATH (where the supervisor will find it); else one sentence and a hint."""
    if shutil.which("prometheus") is None:
        raise DevtoolsError("--monitoring needs Prometheus, and no `prometheus` is on PATH", INSTALL_HINT)


def directory(data_dir: Path) -> Path:
    """Where its configuration, rules and time series live, inside the local runtime's data directory."""
    return data_dir / "prometheus"


def command(data_dir: Path, port: int) -> list[str]:
    """The Prometheus process: its configuration and storage under ``data_dir``, listening on 127.0.0.1 only."""
    home = directory(data_dir)
    return [
        "prometheus",
        f"--config.file={home / 'prometheus.yml'}",
        f"--storage.tsdb.path={home / 'data'}",
        "--storage.tsdb.retention.time=2d",
        f"--web.listen-address=127.0.0.1:{port}",
    ]


def configuration(targets: dict[str, tuple[str, int]]) -> dict:
    """prometheus.yml for ``targets`` (component name -> (kind, port)): one job per kind of service."""
    jobs: dict[str, list[dict]] = {}
    for name, (kind, port) in targets.items():
        if kind in SCRAPED_KINDS:
            group = {"targets": [f"127.0.0.1:{port}"], "labels": {"namespace": NAMESPACE, "pod": name}}
            jobs.setdefault(kind, []).append(group)
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": ["alerts.rules.yml"],  # beside prometheus.yml: Prometheus resolves it from there
        "scrape_configs": [{"job_name": kind, "static_configs": groups} for kind, groups in jobs.items()],
    }


def write_files(data_dir: Path, targets: dict[str, tuple[str, int]]) -> Path:
    """Write prometheus.yml and alerts.rules.yml (anew each `up`: the actors and ports may differ); the
    configuration's path."""
    home = directory(data_dir)
    home.mkdir(parents=True, exist_ok=True)
    (home / "alerts.rules.yml").write_text(rules_file_text())
    config = home / "prometheus.yml"
    config.write_text(yaml.safe_dump(configuration(targets), sort_keys=False))
    return config
