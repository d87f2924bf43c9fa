"""Cartridge's alert rules, one source for every Prometheus that evaluates them.

The source is the PrometheusRule of k8s/components/monitoring/operator/alerts.yaml (what a cluster with the
prometheus-operator gets). A Prometheus without the operator loads a plain rules file instead, its ``groups``:
the local runtime writes one beside its configuration (devtools.local.prometheus), and the kind stack
(k8s/components/monitoring/stack) mounts k8s/components/monitoring/stack/alerts.rules.yml from a ConfigMap.

kustomize cannot turn a custom resource's field into a ConfigMap's file, so that file is generated from the
PrometheusRule and committed: `python -m devtools.alert_rules` writes it again after an edit of alerts.yaml, and
tests/k8s/test_monitoring_stack.py fails while the two differ.
"""

from __future__ import annotations

import sys

import yaml

from devtools.paths import REPO_ROOT

MONITORING = REPO_ROOT / "k8s" / "components" / "monitoring"
ALERTS = MONITORING / "operator" / "alerts.yaml"
STACK_RULES = MONITORING / "stack" / "alerts.rules.yml"
HEADER = (
    "# Generated from k8s/components/monitoring/operator/alerts.yaml (the PrometheusRule's groups) by\n"
    "# `python -m devtools.alert_rules`: edit alerts.yaml, then run that. tests/k8s/test_monitoring_stack.py keeps\n"
    "# the two equal.\n"
)


def rule_groups() -> list[dict]:
    """The alert groups of the cluster's PrometheusRule (kustomize leaves its spec as written)."""
    return yaml.safe_load(ALERTS.read_text())["spec"]["groups"]


def rules_file_text(header: str = "") -> str:
    """The groups as the plain rules file Prometheus' rule_files loads."""
    return header + yaml.safe_dump({"groups": rule_groups()}, sort_keys=False)


def write_stack_rules() -> bool:
    """Write the kind stack's rules file from the PrometheusRule; True when it changed."""
    text = rules_file_text(HEADER)
    if STACK_RULES.is_file() and STACK_RULES.read_text() == text:
        return False
    STACK_RULES.write_text(text)
    return True


if __name__ == "__main__":
    changed = write_stack_rules()
    print(f"{STACK_RULES.relative_to(REPO_ROOT)} {'written' if changed else 'already up to date'}")
    sys.exit(0)
