"""devtools.local.prometheus (`devtools up --monitoring`): the configuration scrapes every local service under the
labels the cluster's scrapes give, with the cluster's own alert rules, and promtool accepts it; the Prometheus
component runs from the data directory on 127.0.0.1; a missing `prometheus` is one sentence and a hint."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest
from click.testing import CliRunner

from cartridge.telemetry import serve_health
from cartridge_trainer.metrics import TrainerMetrics
from devtools.alert_rules import rule_groups
from devtools.cli import cli
from devtools.errors import DevtoolsError
from devtools.http import probe_json
from devtools.local import LocalConfig, LocalRuntime, prometheus
from devtools.runtimes import UpOptions
from testkit.support import free_port, wait_until
from tests.devtools.conftest import local_config, schema
from tests.k8s.render import by_kind, render
from tests.promtool import prometheus_tool, promtool

ALERT_NAMES = {rule["alert"] for group in rule_groups() for rule in group["rules"]}


def targets(config: LocalConfig) -> dict[str, tuple[str, int]]:
    return {c.name: (c.kind, c.port) for c in config.components()}


def test_every_service_is_a_target_of_its_own_job_with_the_cluster_s_labels(tmp_path):
    config = local_config(tmp_path, actors=2, monitoring=True)
    scrape = {
        job["job_name"]: job["static_configs"] for job in prometheus.configuration(targets(config))["scrape_configs"]
    }
    assert sorted(scrape) == ["actor", "arena", "trainer", "web"]  # not Prometheus itself, nor the frontend
    assert scrape["actor"] == [
        {"targets": [f"127.0.0.1:{config.actor_base_port + i}"], "labels": {"namespace": "local", "pod": f"actor-{i}"}}
        for i in range(2)
    ]
    assert scrape["web"] == [
        {"targets": [f"127.0.0.1:{config.web_port}"], "labels": {"namespace": "local", "pod": "web"}}
    ]


def test_the_rules_are_the_cluster_s_prometheus_rule():
    (rule,) = by_kind(render("tests/k8s/overlays/monitoring"), "PrometheusRule").values()
    assert rule_groups() == rule["spec"]["groups"]


def test_promtool_accepts_the_written_configuration_and_its_rules(tmp_path):
    config = local_config(tmp_path, monitoring=True)
    written = prometheus.write_files(config.data_dir, targets(config))
    result = subprocess.run([promtool(), "check", "config", str(written)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERT_NAMES)} rules found" in result.stdout  # the rules file it names: checked too


def test_the_prometheus_component_listens_on_loopback_and_keeps_its_data_in_the_data_directory(tmp_path):
    config = local_config(tmp_path, monitoring=True)
    (component,) = [c for c in config.components() if c.kind == "prometheus"]
    home = config.data_dir.resolve() / "prometheus"
    assert component.command == [
        "prometheus",
        f"--config.file={home / 'prometheus.yml'}",
        f"--storage.tsdb.path={home / 'data'}",
        "--storage.tsdb.retention.time=2d",
        f"--web.listen-address=127.0.0.1:{config.prometheus_port}",
    ]
    assert component.health_path == "/-/ready" and component.port == config.prometheus_port
    assert f"prometheus http://127.0.0.1:{config.prometheus_port}" in LocalRuntime(config).urls()
    assert LocalConfig.from_json(config.to_json()).monitoring  # `status` and `down` see the same components
    assert not [c for c in local_config(tmp_path).components() if c.kind == "prometheus"]  # off unless asked


def test_up_without_prometheus_on_path_says_what_to_install_and_starts_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    config = local_config(tmp_path, monitoring=True)
    with pytest.raises(DevtoolsError) as raised:
        LocalRuntime(config).up()
    assert (
        "no `prometheus` is on PATH" in str(raised.value) and "--no-install-recommends prometheus" in raised.value.hint
    )
    assert not config.data_dir.exists()


def test_the_status_schema_knows_every_kind_of_local_component(tmp_path):
    """`devtools status -o json` lists each component by kind: Prometheus' must be one its schema admits."""
    kinds = {c.kind for c in local_config(tmp_path, monitoring=True, frontend=True).components()} | {"frontend"}
    assert kinds <= set(schema("status")["$defs"]["component"]["properties"]["kind"]["enum"])


def test_the_real_prometheus_scrapes_a_service_and_loads_every_alert(tmp_path):
    """The configuration `up --monitoring` writes, run by the real Prometheus against a real /metrics server
    (cartridge.telemetry's, with the trainer's metrics): the series arrive under the cluster's labels and the
    seven alerts load."""
    prometheus_tool("prometheus")
    metrics = TrainerMetrics("tictactoe", episodes_per_iteration=8, max_transitions=1000)
    service_port, prometheus_port = free_port(), free_port()
    server = serve_health("127.0.0.1", service_port, metrics.registry)
    prometheus.write_files(tmp_path, {"trainer": ("trainer", service_port)})
    process = subprocess.Popen(
        prometheus.command(tmp_path, prometheus_port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    api = f"http://127.0.0.1:{prometheus_port}/api/v1"
    try:
        query = 'cartridge_replay_max_transitions{job="trainer",namespace="local",pod="trainer",env_id="tictactoe"}'

        def scraped() -> list | None:
            answer = probe_json(f"{api}/query?query={query}")
            return answer["data"]["result"] if answer and answer["data"]["result"] else None

        (series,) = wait_until(scraped, 60, "Prometheus to scrape the trainer's /metrics")
        assert series["value"][1] == "1000"
        groups = probe_json(f"{api}/rules")["data"]["groups"]
        loaded = {rule["name"]: rule["health"] for group in groups for rule in group["rules"]}
        assert len(ALERT_NAMES) == 7 and loaded == dict.fromkeys(ALERT_NAMES, "ok")
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, process.stderr.read().decode()[-2000:]
        server.shutdown()


def test_up_monitoring_scrapes_every_local_service_and_prints_prometheus_url(tmp_path, monkeypatch):
    """`devtools up --monitoring` through the CLI, on the real local runtime: only the ports and the data directory
    are replaced (free ones: the defaults may be taken on a shared machine); --monitoring reaches the config."""
    prometheus_tool("prometheus")
    free = local_config(tmp_path)
    moved = {"data_dir", "web_port", "trainer_port", "actor_base_port", "arena_port", "prometheus_port", "settings"}
    parsed = UpOptions.local_config

    def with_free_ports(self: UpOptions) -> LocalConfig:
        return dataclasses.replace(parsed(self), **{name: getattr(free, name) for name in moved})

    monkeypatch.setattr(UpOptions, "local_config", with_free_ports)
    try:
        result = CliRunner().invoke(cli, ["up", "--runtime", "local", "--detach", "--no-frontend", "--monitoring"])
        assert result.exit_code == 0, result.output
        assert f"http://127.0.0.1:{free.prometheus_port}" in result.output

        def targets_up() -> dict | None:
            answer = probe_json(f"http://127.0.0.1:{free.prometheus_port}/api/v1/query?query=up")
            found = {r["metric"]["pod"]: r["value"][1] for r in (answer or {}).get("data", {}).get("result", [])}
            return found if found == dict.fromkeys(("trainer", "web", "arena", "actor-0"), "1") else None

        wait_until(targets_up, 60, "Prometheus to scrape every local service")
    finally:
        LocalRuntime.attach(free.data_dir).down()  # the configuration `up` recorded, Prometheus included
