"""docs/metrics.md lists exactly what the services export: every metric family each service's registry declares,
with its type, its labels and the services that export it; and what they export follows Prometheus' naming
(`promtool check metrics`)."""

from __future__ import annotations

import re
import subprocess

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from devtools.paths import REPO_ROOT
from tests.exported_metrics import REGISTRIES, exported_metrics
from tests.promtool import promtool

DOC = REPO_ROOT / "docs" / "metrics.md"
ROW = re.compile(r"^\| `((?:cartridge|process)_[a-z0-9_]+)` \| (\w+) \| [^|]+ \| ([^|]+) \| ([^|]+) \| [^|]+ \|$")
ADDED_BY_HISTOGRAMS = {"le"}


def table() -> dict[str, tuple[str, set[str], set[str]]]:
    """Metric -> (type, labels, exporters), from the table's rows."""
    rows = {}
    for line in DOC.read_text().splitlines():
        if match := ROW.match(line):
            name, kind, labels, exporters = match.groups()
            assert name not in rows, f"{name} twice in docs/metrics.md"
            rows[name] = (kind, set(re.findall(r"`(\w+)`", labels)), {e.strip() for e in exporters.split(",")})
    return rows


def sample_labels() -> dict[str, set[str]]:
    """Family -> the label names its samples carry, for every family with a sample at start-up (labelled ones that
    nothing touched yet have none to read)."""
    found: dict[str, set[str]] = {}
    declared = exported_metrics()
    for registry in REGISTRIES.values():
        for line in generate_latest(registry()).decode().splitlines():
            if line.startswith("#") or "{" not in line:
                continue
            sample = line.split("{", 1)[0]
            family = next((f for f in declared if sample == f or sample.startswith(f + "_")), None)
            if family is not None:
                found.setdefault(family, set()).update(re.findall(r"(\w+)=\"", line))
    return {family: labels - ADDED_BY_HISTOGRAMS for family, labels in found.items()}


def test_the_table_lists_exactly_the_exported_metrics():
    documented, exported = table(), exported_metrics()
    assert len(documented) > 20
    assert sorted(set(exported) - set(documented)) == [], "exported but missing from docs/metrics.md"
    assert sorted(set(documented) - set(exported)) == [], "in docs/metrics.md but exported by no service"


def test_each_row_s_type_and_exporters_match_the_services():
    exported = exported_metrics()
    for name, (kind, _, exporters) in table().items():
        assert kind == exported[name][0], name
        assert exporters <= exported[name][1], f"{name}: {exporters - exported[name][1]} do not export it"


def test_each_row_s_labels_are_the_samples_labels():
    documented = table()
    labels = sample_labels()
    assert {"cartridge_trainer_pending_episodes", "cartridge_arena_versions_total"} <= set(labels)
    for name, found in labels.items():
        assert documented[name][1] == found, name


def lint(exposition: bytes) -> subprocess.CompletedProcess:
    """`promtool check metrics` on every family the exposition declares. promtool lints only families with samples,
    and a labelled metric has none until first used, so each family goes in with one sample of its own (the lint
    reads names, types and help, not labels or values)."""
    lines = []
    for line in exposition.decode().splitlines():
        if line.startswith("# HELP "):
            lines.append(line)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            samples = [f'{name}_bucket{{le="+Inf"}} 1', f"{name}_count 1", f"{name}_sum 1"]
            lines += [line, *(samples if kind == "histogram" else [f"{name} 1"])]
    text = "\n".join(lines) + "\n"
    return subprocess.run([promtool(), "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)


@pytest.mark.parametrize("service", sorted(REGISTRIES))
def test_each_service_s_metrics_pass_promtool_s_naming_lint(service):
    """Prometheus' conventions as promtool checks them: base units as suffixes, `_total` on counters, help text."""
    result = lint(generate_latest(REGISTRIES[service]()))
    assert result.returncode == 0 and not result.stdout, (result.stdout + result.stderr).decode()


def test_the_naming_lint_refuses_a_metric_in_milliseconds():
    registry = CollectorRegistry()
    Histogram("cartridge_iteration_milliseconds", "Iteration time", ["env_id"], registry=registry)  # not yet used
    result = lint(generate_latest(registry))
    assert result.returncode != 0 and b"seconds" in result.stdout + result.stderr
