"""The alert rules (k8s/components/monitoring/alerts.yaml) with the real promtool: the rendered PrometheusRule's
groups, written out as the plain rules file a Prometheus loads, pass `promtool check rules` and the unit tests in
tests/k8s/alert_rules_test.yml, where each alert fires once and stays silent once.

One source: the rules file is taken from `kubectl kustomize`'s output, so promtool checks exactly what the cluster
gets. (A configMapGenerator over a plain file cannot feed a PrometheusRule: kustomize has no way to inline a file
into a custom resource's structured field, so the two would be separate copies.)"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from devtools.paths import REPO_ROOT
from tests.exported_metrics import exported_sample_names
from tests.k8s.render import by_kind, render
from tests.promtool import promtool

OVERLAY = "tests/k8s/overlays/monitoring"
UNIT_TESTS = Path(__file__).with_name("alert_rules_test.yml")
RULES_FILE = "alerts.rules.yml"  # the name alert_rules_test.yml's rule_files gives
OUTSIDE_CARTRIDGE = {"kube_pod_container_status_restarts_total"}  # kube-state-metrics'


def rule_groups() -> list[dict]:
    """A copy: render() caches its objects for every test."""
    (rule,) = by_kind(render(OVERLAY), "PrometheusRule").values()
    return copy.deepcopy(rule["spec"]["groups"])


def alerts() -> dict[str, dict]:
    return {r["alert"]: r for group in rule_groups() for r in group["rules"] if "alert" in r}


@pytest.fixture
def rules_dir(tmp_path) -> Path:
    """The rendered groups as a plain rules file, beside a copy of the unit tests that name it."""
    (tmp_path / RULES_FILE).write_text(yaml.safe_dump({"groups": rule_groups()}, sort_keys=False))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    return tmp_path


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_promtool_check_rules_accepts_the_rendered_rules(rules_dir):
    result = run_promtool("check", "rules", RULES_FILE, cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_promtool_check_rules_refuses_a_broken_expression(rules_dir):
    """The check is real: a rule whose PromQL does not parse fails it."""
    groups = rule_groups()
    groups[0]["rules"][0]["expr"] = "sum by (namespace (rate(cartridge_episodes_total[15m]))"
    (rules_dir / RULES_FILE).write_text(yaml.safe_dump({"groups": groups}))
    result = run_promtool("check", "rules", RULES_FILE, cwd=rules_dir)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr


def test_promtool_unit_tests_pass(rules_dir):
    result = run_promtool("test", "rules", UNIT_TESTS.name, cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_unit_tests_fail_when_an_alert_s_threshold_moves(rules_dir):
    """They bite: the replay buffer's alert moved from 105 % to 160 % of the bound misses its firing case."""
    groups = rule_groups()
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == "CartridgeReplayBufferOverBound"]
    assert rule["expr"].endswith(" > 1.05")
    rule["expr"] = rule["expr"].replace(" > 1.05", " > 1.6")
    (rules_dir / RULES_FILE).write_text(yaml.safe_dump({"groups": groups}))
    result = run_promtool("test", "rules", UNIT_TESTS.name, cwd=rules_dir)
    assert result.returncode != 0 and "CartridgeReplayBufferOverBound" in result.stdout + result.stderr


def test_each_alert_has_a_unit_test_that_fires_it_and_one_that_shows_it_silent():
    cases = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    named = {check["alertname"] for check in checks}
    # promtool passes a test of an alert name no rule has (nothing fires), so a typo would be a silent case forever.
    assert named <= set(alerts()), f"unit tests of no rule: {named - set(alerts())}"
    for name in alerts():
        assert any(c["alertname"] == name and c["exp_alerts"] for c in checks), f"{name}: no test fires it"
        assert any(c["alertname"] == name and not c["exp_alerts"] for c in checks), f"{name}: no test shows it silent"


def test_the_alerts_read_only_metrics_the_services_export():
    """A metric renamed in a service (or in a rule) fails here, not silently in production."""
    exported = exported_sample_names()
    for name, rule in alerts().items():
        used = set(re.findall(r"\b(?:cartridge|kube)_[a-z0-9_]+", rule["expr"]))
        assert used, name
        assert used <= exported | OUTSIDE_CARTRIDGE, f"{name} reads {sorted(used - exported - OUTSIDE_CARTRIDGE)}"


def test_the_restart_alert_watches_the_namespace_the_stack_runs_in():
    (rule,) = by_kind(render(OVERLAY), "PrometheusRule").values()
    namespace = rule["metadata"]["namespace"]
    assert namespace == "cartridge"
    assert f'namespace="{namespace}"' in alerts()["CartridgePodRestarting"]["expr"]
    assert REPO_ROOT.joinpath(OVERLAY, "kustomization.yaml").is_file()
