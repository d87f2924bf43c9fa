"""The Grafana dashboards against the real stack and the real Prometheus scraping it (`up --monitoring`'s, on the
local target): every panel's query, its variables replaced as Grafana replaces them, parses (promtool asks the server)
and returns data, as the panel runs it (a range query over the dashboard's time range). A panel that would show
"No data" fails, naming the panel and the query sent.

The files read are the committed ones, the JSON Grafana is given (tests/devtools/test_dashboards.py holds them to the
generator)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
import urllib.parse

import pytest

from devtools.dashboards import DIRECTORY
from devtools.http import probe_json
from devtools.local.prometheus import SCRAPE_INTERVAL
from devtools.timeflags import parse_duration
from testkit.support import wait_until
from tests.promtool import prometheus_tool, promtool

DASHBOARDS = {path.name: json.loads(path.read_text()) for path in sorted(DIRECTORY.glob("*.json"))}
# The datasource's "scrape interval" (jsonData.timeInterval) set to what this Prometheus scrapes at: the lower bound
# of $__interval and the base of $__rate_interval.
SCRAPE_SECONDS = parse_duration(SCRAPE_INTERVAL)
MAX_DATA_POINTS = 1000  # Grafana asks for about one point per pixel of the panel's width
RANGE_SECONDS = 3600  # the dashboards' default time range, now-1h to now
DATA_WAIT = 420  # the first model, swaps and ratings: about two minutes on a quiet 2-core machine


def intervals() -> dict[str, str]:
    """$__interval and $__rate_interval as Grafana's Prometheus backend computes them for a range query
    (grafana/grafana pkg/promlib/models/query.go, calculatePrometheusInterval and calculateRateInterval): the
    interval is range / maxDataPoints but never under the scrape interval; the rate interval is the larger of
    interval + scrape interval and four scrape intervals."""
    interval = max(SCRAPE_SECONDS, math.ceil(RANGE_SECONDS / MAX_DATA_POINTS))
    rate_interval = max(interval + SCRAPE_SECONDS, 4 * SCRAPE_SECONDS)
    return {"__interval": f"{interval:g}s", "__rate_interval": f"{rate_interval:g}s", "__range": f"{RANGE_SECONDS}s"}


def regex_escaped(value: str) -> str:
    """Grafana's prometheusSpecialRegexEscape (packages/grafana-prometheus/src/datasource.ts): a value in a regex
    matcher has its special characters escaped."""
    return re.sub(r"([\\$^*+?.()|{}\[\]])", r"\\\1", value)


def interpolated(expr: str, values: dict[str, str]) -> str:
    """``expr`` with `$name` and `${name}` replaced; an unknown variable is left as it is (Grafana does the same, and
    Prometheus then refuses the query)."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values.get(m[1] or m[2], m[0]), expr)


def resolved_variables(api: str, dashboard: dict) -> dict[str, str]:
    """Each query variable, in order (a later one may use an earlier one), at its "All" value: Grafana lists the label
    values `label_values(selector, label)` finds (/api/v1/series over the time range) and, for All without a custom
    value, joins them as `(a|b)` (interpolateQueryExpr)."""
    values = intervals()
    end = time.time()
    for variable in dashboard["templating"]["list"]:
        assert variable["type"] == "query" and variable["includeAll"] and not variable.get("allValue"), variable
        selector, label = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]).groups()
        match = interpolated(selector, values)
        params = urllib.parse.urlencode({"match[]": match, "start": end - RANGE_SECONDS, "end": end})
        answer = probe_json(f"{api}/series?{params}") or {}
        found = sorted({series[label] for series in answer.get("data", []) if label in series})
        assert found, f"variable ${variable['name']}: label_values({match}, {label}) finds no value"
        escaped = [regex_escaped(value) for value in found]
        values[variable["name"]] = escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    return values


def panel_queries() -> list[tuple[str, str, str, str]]:
    """(dashboard file, panel title, refId, expr) for every target of every panel."""
    return [
        (name, panel["title"], target["refId"], target["expr"])
        for name, dashboard in DASHBOARDS.items()
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]


def has_data(api: str, expr: str) -> bool:
    """The range query the panel runs returns at least one series with a finite value (NaN draws nothing)."""
    end = time.time()
    step = intervals()["__interval"]
    params = urllib.parse.urlencode({"query": expr, "start": end - RANGE_SECONDS, "end": end, "step": step})
    answer = probe_json(f"{api}/query_range?{params}") or {}
    assert answer.get("status") == "success", f"{expr}: {answer}"
    return any(math.isfinite(float(v)) for series in answer["data"]["result"] for _, v in series["values"])


@pytest.mark.timeout(DATA_WAIT + 120)
def test_every_panel_s_query_parses_and_returns_data(stack):
    if stack.prometheus_url is None:
        pytest.skip(f"the {stack.target} stack runs no Prometheus to ask")
    prometheus_tool("prometheus")
    api = f"{stack.prometheus_url}/api/v1"
    assert set(DASHBOARDS) == {"training.json", "serving.json"}
    queries = panel_queries()
    assert len(queries) >= 15

    def every_variable() -> dict[str, dict[str, str]] | None:
        try:
            return {name: resolved_variables(api, dashboard) for name, dashboard in DASHBOARDS.items()}
        except AssertionError:
            return None

    deadline = (
        time.monotonic() + DATA_WAIT
    )  # one DATA_WAIT for both waits: the data that fills the variables comes first
    variables = wait_until(every_variable, DATA_WAIT, "every dashboard variable to have values", interval=1)
    sent = {(name, title, ref): interpolated(expr, variables[name]) for name, title, ref, expr in queries}
    for (name, title, ref), expr in sent.items():
        assert "$" not in expr, f"{name} {title!r} {ref}: a variable is left in {expr}"
        parsed = subprocess.run(
            [promtool(), "query", "instant", stack.prometheus_url, expr], capture_output=True, text=True, timeout=60
        )
        assert parsed.returncode == 0, f"{name} {title!r} {ref}: {expr}\n{parsed.stderr}"

    empty = dict(sent)

    def all_have_data() -> bool:
        for key, expr in list(empty.items()):
            if has_data(api, expr):
                del empty[key]
        return not empty

    try:
        wait_until(
            all_have_data, max(1.0, deadline - time.monotonic()), "every panel's query to return data", interval=2
        )
    except Exception:
        shown = "\n".join(f"  {name} {title!r} {ref}: {expr}" for (name, title, ref), expr in empty.items())
        pytest.fail(f"{len(empty)} of {len(sent)} panel queries return no data after {DATA_WAIT} s:\n{shown}")
