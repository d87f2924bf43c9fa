"""devtools/dashboards.py: the committed dashboards are the generator's output, and each reads the Prometheus
datasource the monitoring component provisions."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from devtools import dashboards
from devtools.paths import REPO_ROOT
from tests.exported_metrics import exported_sample_names


def test_the_committed_dashboards_are_the_generator_s_output():
    for board in dashboards.BOARDS:
        committed = dashboards.DIRECTORY / board.file
        assert committed.is_file() and committed.read_text() == dashboards.render(board), (
            f"{committed} is not what devtools/dashboards.py writes: run `{dashboards.REGENERATE}` and commit it"
        )


def test_check_names_a_stale_file_and_the_command_that_writes_it(tmp_path, monkeypatch, capsys):
    dashboards.write(tmp_path)
    monkeypatch.setattr(dashboards, "DIRECTORY", tmp_path)
    assert dashboards.main(["--check"]) == 0
    (tmp_path / "serving.json").write_text("{}\n")
    assert dashboards.main(["--check"]) == 1
    assert "serving.json" in (said := capsys.readouterr().out) and "make dashboards" in said


def test_every_panel_and_every_query_reads_the_provisioned_datasource():
    for board in dashboards.BOARDS:
        document = json.loads(dashboards.render(board))
        expected = {"type": "prometheus", "uid": dashboards.DATASOURCE_UID}
        assert document["panels"]
        for panel in document["panels"]:
            assert panel["datasource"] == expected, panel["title"]
            assert panel["targets"] and all(t["datasource"] == expected for t in panel["targets"]), panel["title"]
        assert all(v["datasource"] == expected for v in document["templating"]["list"])


def test_every_metric_a_query_names_is_one_a_service_exports():
    """Without a stack: a query naming a metric no service declares (a rename on either side) fails here already."""
    exported = exported_sample_names()
    for board in dashboards.BOARDS:
        document = json.loads(dashboards.render(board))
        queries = [t["expr"] for p in document["panels"] for t in p["targets"]]
        queries += [v["query"] for v in document["templating"]["list"]]
        for expr in queries:
            named = set(re.findall(r"\b(?:cartridge|process)_[a-z0-9_]+", expr))
            assert named and named <= exported, f"{board.file}: {sorted(named - exported)} in {expr}"


SCHEMA = json.loads((REPO_ROOT / "k8s" / "schemas" / "grafana-v11.6" / "dashboard.json").read_text())


@pytest.mark.parametrize("board", dashboards.BOARDS, ids=lambda b: b.file)
def test_each_dashboard_follows_grafana_s_dashboard_schema(board):
    """k8s/schemas/grafana-v11.6/dashboard.json: Grafana 11.6's dashboard, panel, variable and query definitions (from
    grafana-foundation-sdk's jsonschema/, see its description), closed as upstream's are."""
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(json.loads((dashboards.DIRECTORY / board.file).read_text()), SCHEMA, jsonschema.Draft7Validator)


def first_panel_of(kind: str, document: dict) -> dict:
    return next(p for p in document["panels"] if p["type"] == kind)


BROKEN = {
    "a field Grafana's dashboard has not": lambda d: d.update(style="dark"),
    "a panel plugin the schema does not know": lambda d: first_panel_of("timeseries", d).update(type="graph"),
    "a legend placed where Grafana places none": lambda d: first_panel_of("timeseries", d)["options"]["legend"].update(
        placement="top"
    ),
    "a stat panel's option from the time series": lambda d: first_panel_of("stat", d)["options"].update(legend={}),
    "a query without its refId": lambda d: first_panel_of("timeseries", d)["targets"][0].pop("refId"),
    "a panel wider than the grid": lambda d: first_panel_of("stat", d)["gridPos"].update(w=25),
    "a variable whose refresh is no enum value": lambda d: d["templating"]["list"][0].update(refresh=3),
}


@pytest.mark.parametrize("breaks", BROKEN.values(), ids=BROKEN.keys())
def test_the_schema_refuses_what_grafana_would_not_read(breaks):
    document = json.loads(dashboards.render(dashboards.BOARDS[0]))
    breaks(document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA, jsonschema.Draft7Validator)
