"""devtools/dashboards.py: the committed dashboards are the generator's output, and each reads the Prometheus
datasource the monitoring component provisions."""

from __future__ import annotations

import json
import re

from devtools import dashboards
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
